"""Unsorted OSM files made readable: Overpass ``out qt`` exports and JOSM saves.

libosmium's single pass (node locations, then areas) needs the order of ``osmium sort``: nodes,
then ways, then relations, each by id. Overpass writes objects in quadtile order (ids out of
order, sometimes a way before its nodes); JOSM writes new objects with negative ids, which the
node location index ignores, and keeps deleted objects in the file with ``action="delete"``.

:func:`normalized_copy` writes such a file again as a sorted PBF in a temporary folder: deleted and
invisible objects dropped, negative ids moved above :data:`NEW_ID_OFFSET` (the reader moves them
back), then sorted by libosmium in memory (``MergeInputReader``). It is only called when the
fast pass fails on the order or finds references that a sorted file would have resolved, so a
sorted file costs nothing more.
"""

from __future__ import annotations

import bz2
import gzip
import re
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import osmium

#: JOSM's new objects (id -k) are written with id NEW_ID_OFFSET + k: above every OSM id, below
#: libosmium's limit, and sparse, so the location index stays small.
NEW_ID_OFFSET = 1 << 48

_ORDER_ERROR = re.compile(r"out of order|twice", re.IGNORECASE)
_XML_ROOT = re.compile(rb"<osm\b[^>]*>", re.DOTALL)
_JOSM_ROOT = re.compile(rb"""\bgenerator\s*=\s*["']JOSM|\bupload\s*=""")
_DELETED = re.compile(
    rb"""<(node|way|relation)\s[^>]*?\baction\s*=\s*["']delete["'][^>]*>""", re.DOTALL
)
_ID = re.compile(rb"""\sid\s*=\s*["'](-?\d+)["']""")
_CHUNK = 1 << 22


def is_order_error(err: BaseException) -> bool:
    """Return True when libosmium refused ``err``'s file for its object order only."""
    return bool(_ORDER_ERROR.search(str(err)))


def _open_xml(path: Path) -> IO[bytes]:
    name = path.name.lower()
    opener: Callable[..., Any] = (
        gzip.open if name.endswith(".gz") else bz2.open if name.endswith(".bz2") else open
    )
    return opener(path, "rb")


def is_xml(path: Path) -> bool:
    """Return True for OSM XML (plain or compressed), False for PBF."""
    return not path.name.lower().endswith(".pbf")


def is_josm(path: Path) -> bool:
    """Return True when an XML file's root element says JOSM wrote it (``generator``, ``upload``).

    Only the file's first kilobytes are read.
    """
    if not is_xml(path):
        return False
    try:
        with _open_xml(path) as f:
            head = f.read(1 << 13)
    except (OSError, EOFError, ValueError):
        return False  # a corrupt file: the reader says what is wrong with it
    root = _XML_ROOT.search(head)
    return root is not None and _JOSM_ROOT.search(root.group()) is not None


def deleted_objects(path: Path) -> set[tuple[str, int]]:
    """Return the ``(type letter, id)`` of the objects an XML file marks ``action="delete"``.

    Raises
    ------
    RuntimeError
        The file cannot be decompressed (it is corrupt).
    """
    found: set[tuple[str, int]] = set()
    carry = b""
    with _open_xml(path) as f:
        while True:
            try:
                chunk = f.read(_CHUNK)
            except (OSError, EOFError, zlib.error) as exc:  # reported like libosmium's errors
                raise RuntimeError(f"{type(exc).__name__}: {exc}") from exc
            data = carry + chunk
            if not chunk:
                cut = len(data)
            else:  # an element cut by the chunk boundary is read with the next chunk
                cut = data.rfind(b"<")
                cut = len(data) if cut < 0 else cut
            for match in _DELETED.finditer(data, 0, cut):
                ident = _ID.search(match.group())
                if ident is not None:
                    found.add((match.group(1)[:1].decode(), int(ident.group(1))))
            if not chunk:
                return found
            carry = data[cut:]


def _new_id(ident: int) -> int:
    return NEW_ID_OFFSET - ident if ident < 0 else ident


def original_id(ident: int) -> int:
    """Return the id a file gave an object that :func:`normalized_copy` renumbered."""
    return NEW_ID_OFFSET - ident if ident > NEW_ID_OFFSET else ident


def normalized_copy(
    path: Path, folder: Path, *, deleted: set[tuple[str, int]] | None = None
) -> Path:
    """Write ``path`` again in ``folder`` as a sorted PBF that libosmium reads in one pass.

    Objects in ``deleted`` and those with ``visible="false"`` are dropped; negative ids become
    ``NEW_ID_OFFSET + |id|`` (references too); the objects are then sorted by type and id
    (duplicates keep their newest version).

    Raises
    ------
    RuntimeError
        libosmium cannot read the file (it is corrupt).
    """
    deleted = deleted or set()
    clean = folder / "clean.osm.pbf"
    writer = osmium.SimpleWriter(str(clean), overwrite=True)
    try:
        entities = osmium.osm.NODE | osmium.osm.WAY | osmium.osm.RELATION
        for obj in osmium.FileProcessor(str(path), entities):
            if isinstance(obj, osmium.osm.Changeset | osmium.osm.Area):
                continue
            if not obj.visible or (obj.type_str(), obj.id) in deleted:
                continue
            if isinstance(obj, osmium.osm.Node):
                writer.add_node(obj.replace(id=_new_id(obj.id)) if obj.id < 0 else obj)
            elif isinstance(obj, osmium.osm.Way):
                refs = [n.ref for n in obj.nodes]
                if obj.id < 0 or any(r < 0 for r in refs):
                    writer.add_way(
                        obj.replace(id=_new_id(obj.id), nodes=[_new_id(r) for r in refs])
                    )
                else:
                    writer.add_way(obj)
            else:
                members = [(m.type, m.ref, m.role) for m in obj.members]
                if obj.id < 0 or any(ref < 0 for _t, ref, _r in members):
                    members = [(t, _new_id(ref), role) for t, ref, role in members]
                    writer.add_relation(obj.replace(id=_new_id(obj.id), members=members))
                else:
                    writer.add_relation(obj)
    finally:
        writer.close()
    merged = osmium.MergeInputReader()
    merged.add_file(str(clean))
    out = folder / "sorted.osm.pbf"
    sorted_writer = osmium.SimpleWriter(str(out), overwrite=True)
    try:
        merged.apply(sorted_writer, simplify=True)
    finally:
        sorted_writer.close()
    clean.unlink()
    return out
