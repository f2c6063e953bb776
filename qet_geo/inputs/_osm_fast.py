"""Reading an OSM object's tags and way nodes without pyosmium's Python iterators.

pyosmium 4 wraps each libosmium object in a Python class whose ``tags`` and ``nodes`` iterate
in Python: one generator frame, one ``__next__`` call and one wrapper per tag or node. On a
city's extract (Lorient's centre tiled 16×16, 3.8 million tags), ``dict(obj.tags)`` was 22 s of
a 30 s pass, while stepping through the same tags on the C++ object underneath (the wrapper's
``_pyosmium_data``, with ``tags_begin``/``tags_next``) takes about a fifth of that.

``_pyosmium_data`` is not part of pyosmium's documented API, so every accessor here falls back to
the public iterators when the C++ object does not have the methods it uses (:data:`FAST` says
which path is taken; a test asserts that the installed pyosmium takes the fast one and that both
paths give the same result on real extracts).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import osmium.osm._osm as _cosm

#: Whether the installed pyosmium exposes the C++ methods the fast path uses.
FAST: bool = all(
    hasattr(cls, name)
    for cls in (_cosm.COSMNode, _cosm.COSMWay, _cosm.COSMArea, _cosm.COSMRelation)
    for name in ("tags_begin", "tags_next", "tags_size")
) and all(hasattr(_cosm.CWayNodeList, name) for name in ("get", "size"))


def kept_tags(obj: Any, kept: Mapping[str, str], *, fast: bool = FAST) -> dict[str, str]:
    """The tags of ``obj`` whose key is in ``kept``, keyed by ``kept[key]`` (the same key: a
    mapping of the keys to themselves, so that every object shares one string per key)."""
    if not fast:
        return {kept[k]: v for k, v in obj.tags if k in kept}
    data = obj._pyosmium_data
    step, it = data.tags_next, data.tags_begin()
    out = {}
    for _ in range(data.tags_size()):
        k, v = step(it)
        key = kept.get(k)
        if key is not None:
            out[key] = v
    return out


def all_tags(obj: Any, *, fast: bool = FAST) -> dict[str, str]:
    """Every tag of ``obj``."""
    if not fast:
        return dict(obj.tags)
    data = obj._pyosmium_data
    step, it = data.tags_next, data.tags_begin()
    return dict(step(it) for _ in range(data.tags_size()))


def way_nodes(way: Any, *, fast: bool = FAST) -> list[Any]:
    """The node references (``.ref``, ``.location``) of ``way``, in order."""
    if not fast:
        return list(way.nodes)
    data = way._pyosmium_data
    nodes = data.nodes()
    get = nodes.get
    return [get(data, i) for i in range(nodes.size(data))]
