"""Read a survey file into a table of text cells, within bounds.

The first step of every survey reader (:func:`~qet_geo.surveys.su.read_su`,
:func:`~qet_geo.surveys.mdv.read_mdv`, :func:`~qet_geo.surveys.ngc.read_ngc`): the file's bytes
become a header and rows of stripped text cells, nothing interpreted yet.

- **Format**: XLSX is recognised by its content (a zip workbook), whatever its extension; anything
  else must be text: UTF-8 (with or without BOM), UTF-16 with BOM, else cp1252 (Windows Excel),
  else latin-1. ``encoding=`` overrides the guess.
- **Separator**: tab, ``;``, ``,`` or ``|``, the one that splits the first lines into the same,
  largest number of fields. ``sep=`` overrides the guess.
- **Rows**: blank rows at the end of a file are not rows (the header is row 1, as a spreadsheet
  shows it).
- **Limits** (:data:`LIMITS`, a :class:`ReadLimits`): a file is refused, before it is parsed when
  it can be, when it is larger than 100 MB, when an XLSX workbook unzips to more than 50 MB, has an
  entry inflating more than 100 times (a zip bomb: 4 MB that unzip to 4 GB) or more than 1 000
  entries, and while it is read when it has more than 200 000 rows, 1 000 columns, 20 million
  cells (empty ones included) or a cell of more than 10 000 characters. Survey exports are far
  below; a hostile file then costs seconds and megabytes, not minutes and gigabytes.

The limits are the public part of this module; :func:`load_table` and :class:`Table` serve the
readers of this package.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import math
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import IO

from qet_geo._validate import existing_file
from qet_geo.errors import EmptyDataError, InputFileError, ValidationError
from qet_geo.i18n import Msg, msg

__all__ = ["LIMITS", "ReadLimits"]

logger = logging.getLogger(__name__)

PathType = str | PathLike[str]
#: What a reader reads: a path, or a file object opened in binary mode.
Source = PathType | IO[bytes]


@dataclass(frozen=True)
class ReadLimits:
    """The most a survey file may hold: past any of them it is refused with a clear message.

    Attributes
    ----------
    max_file_bytes
        Size of the file.
    max_unzipped_bytes
        Size of an XLSX workbook's entries once unzipped, together (from the zip's directory,
        which the reader then holds to: an entry that inflates past its declared size is cut).
    max_zip_ratio
        Most an XLSX entry of more than 1 MB may inflate (unzipped over zipped size).
    max_zip_entries
        Entries of an XLSX workbook.
    max_rows
        Rows of the table, header excluded.
    max_columns
        Columns of a row, trailing empty cells excluded.
    max_cells
        Cells read from an XLSX sheet, empty ones included (a sheet's gaps are filled).
    max_cell_chars
        Characters of one cell.
    """

    max_file_bytes: int = 100_000_000
    max_unzipped_bytes: int = 50_000_000
    max_zip_ratio: float = 100.0
    max_zip_entries: int = 1_000
    max_rows: int = 200_000
    max_columns: int = 1_000
    max_cells: int = 20_000_000
    max_cell_chars: int = 10_000


#: The limits every reader applies; replace it (``dataclasses.replace``) to change them.
LIMITS = ReadLimits()

#: Entries smaller than this unzipped are not held to :attr:`ReadLimits.max_zip_ratio`.
_RATIO_FLOOR = 1_000_000

_SEPARATORS = ("\t", ";", ",", "|")
_SEP_NAMES = {"\t": "tab", ";": ";", ",": ",", "|": "|"}
_SEP_ALIASES = {"tab": "\t", "\\t": "\t", "tabulation": "\t", "semicolon": ";", "comma": ","}

#: Cell texts, once normalised, that mean "no answer".
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "-", "nr", "sans reponse"})

_MAGIC = {
    b"%PDF": msg("un document PDF"),
    b"\x89PNG": msg("une image PNG"),
    b"\xff\xd8\xff": msg("une image JPEG"),
    b"GIF8": msg("une image GIF"),
    b"\x1f\x8b": msg("une archive gzip"),
    b"\xd0\xcf\x11\xe0": msg("un ancien fichier Excel (.xls) ou Word"),
}

#: How messages name the file read: its path (the same in both languages), or
#: :data:`UPLOADED` for a file object without a name.
SourceName = Msg | str
#: The name of a file object without one.
UPLOADED = msg("le fichier envoyé")


def check_table_options(
    *, sep: str | None, encoding: str | None, sheet: str | int | None
) -> str | None:
    """Check how a file is to be read; return ``sep`` in canonical form (None: detect it)."""
    if sep is not None:
        if not isinstance(sep, str):
            raise ValidationError(msg("sep doit être un texte comme ';', pas {sep!r}.", sep=sep))
        sep = _SEP_ALIASES.get(sep.lower(), sep)
        if sep not in _SEPARATORS:
            raise ValidationError(
                msg(
                    "séparateur {sep!r} non pris en charge : utilisez tab, ';', ',' ou '|' (ou "
                    "laissez-le détecter).",
                    sep=sep,
                )
            )
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except (LookupError, TypeError) as exc:
            raise ValidationError(
                msg(
                    "encodage {encoding!r} inconnu : utilisez par exemple 'utf-8', 'cp1252' ou "
                    "'latin-1' (ou laissez-le détecter).",
                    encoding=encoding,
                )
            ) from exc
    if sheet is not None and (isinstance(sheet, bool) or not isinstance(sheet, str | int)):
        raise ValidationError(
            msg(
                "sheet doit être un nom de feuille ou une position (à partir de 0), pas {sheet!r}.",
                sheet=sheet,
            )
        )
    return sep


@dataclass
class Table:
    """A survey file as text cells: its header, its rows, and how it was read."""

    source: SourceName
    header: list[str]
    rows: list[list[str]]
    encoding: str | None
    sep: str | None
    notes: list[Msg]

    def column(self, i: int) -> list[str]:
        """Return the stripped cells of column ``i``, ``""`` where a row is shorter."""
        return [r[i].strip() if i < len(r) else "" for r in self.rows]


def load_table(
    path: Source, *, sep: str | None, encoding: str | None, sheet: str | int | None
) -> Table:
    """Read a file into a header and rows of text cells (no interpretation yet)."""
    data, source, file = _read_bytes(path)
    if not data.removeprefix(codecs.BOM_UTF8).strip(b" \t\r\n\x00"):
        raise EmptyDataError(
            msg(
                "{source} est vide : exportez à nouveau les réponses (CSV, TSV ou XLSX avec une "
                "ligne d'en-tête).",
                source=source,
            ),
            path=file,
        )
    if data[:4] == b"PK\x03\x04":
        cells = _xlsx_cells(data, source=source, file=file, sheet=sheet)
        enc: str | None = None
        used_sep: str | None = None
    else:
        text, enc = _decode(data, source=source, file=file, encoding=encoding)
        used_sep = sep or _guess_sep(text)
        cells = _csv_cells(text, used_sep, source=source, file=file)
    table = Table(source, [], [], enc, used_sep, [])
    while cells and not any(cells[0]):
        cells.pop(0)
    if not cells:
        raise EmptyDataError(
            msg(
                "{source} ne contient pas de tableau : exportez les réponses avec une ligne "
                "d'en-tête.",
                source=source,
            ),
            path=file,
        )
    header = [h.strip() for h in cells[0]]
    rows = cells[1:]
    trailing = 0
    while rows and not any(c.strip() for c in rows[-1]):
        rows.pop()
        trailing += 1
    if trailing:
        table.notes.append(
            msg("{trailing} ligne(s) vide(s) en fin de fichier ignorée(s)", trailing=trailing)
        )
    if not rows:
        raise EmptyDataError(
            msg(
                "{source} a un en-tête mais aucune ligne de réponse : exportez à nouveau les "
                "réponses, avec leurs lignes.",
                source=source,
            ),
            path=file,
        )
    table.header = header
    table.rows = rows
    if enc is not None:
        table.notes.append(msg("encodage {enc}", enc=enc))
        table.notes.append(msg("séparateur {sep}", sep=_SEP_NAMES[used_sep or ","]))
    else:
        table.notes.append(msg("classeur XLSX"))
    logger.debug("read %d rows of %d columns from %s", len(rows), len(header), source)
    return table


def _read_bytes(path: Source) -> tuple[bytes, SourceName, str | None]:
    limit = LIMITS.max_file_bytes
    if hasattr(path, "read"):
        raw = path.read(limit + 1)
        if not isinstance(raw, bytes):
            raise ValidationError(msg("un objet fichier doit être ouvert en mode binaire ('rb')."))
        name = getattr(path, "name", None)
        source: SourceName = UPLOADED if name is None else str(name)
        if len(raw) > limit:
            raise _too_big(source, None, msg("dépasse {limit} octets", limit=limit))
        return raw, source, None
    if not isinstance(path, str | PathLike):
        raise ValidationError(
            msg(
                "path doit être un chemin de fichier ou un objet fichier binaire, pas {type_name}.",
                type_name=type(path).__name__,
            )
        )
    file = Path(path)
    existing_file(file, what=msg("Fichier d'enquête"))
    if file.is_dir():
        raise InputFileError(
            msg(
                "{file} est un dossier : passez le fichier d'enquête lui-même (CSV, TSV ou XLSX).",
                file=file,
            ),
            path=file,
        )
    try:
        size = file.stat().st_size
        data = None if size > limit else file.read_bytes()
    except OSError as exc:
        raise InputFileError(
            msg(
                "{file} ne peut pas être lu ({strerror}) : vérifiez ses droits.",
                file=file,
                strerror=exc.strerror,
            ),
            path=file,
        ) from exc
    if data is None:
        raise _too_big(str(file), str(file), msg("dépasse {limit} octets", limit=limit))
    return data, str(file), str(file)


def _decode(
    data: bytes, *, source: SourceName, file: str | None, encoding: str | None
) -> tuple[str, str]:
    for magic, what in _MAGIC.items():
        if data.startswith(magic):
            raise InputFileError(
                msg(
                    "{source} est {what}, pas un tableau : exportez les réponses en CSV, TSV ou "
                    "XLSX.",
                    source=source,
                    what=what,
                ),
                path=file,
            )
    try:
        if encoding is not None:
            text, used = data.decode(encoding), encoding
        elif data.startswith(codecs.BOM_UTF8):
            text, used = data[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
        elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            text, used = data.decode("utf-16"), "utf-16"
        else:
            text, used = "", ""
            for candidate in ("utf-8", "cp1252", "latin-1"):
                try:
                    text, used = data.decode(candidate), candidate
                    break
                except UnicodeDecodeError:
                    continue
    except UnicodeDecodeError as exc:
        tried = encoding or exc.encoding
        raise InputFileError(
            msg(
                "{source} ne peut pas être décodé en {tried} (octet {byte}) : {fix}",
                source=source,
                tried=tried,
                byte=exc.start,
                fix=msg("laissez l'encodage être détecté, ou essayez 'cp1252' ou 'utf-8'.")
                if encoding
                else msg(
                    "son début annonce cet encodage mais la suite ne l'est pas ; exportez-le à "
                    "nouveau en UTF-8."
                ),
            ),
            path=file,
        ) from exc
    text = text.removeprefix("\ufeff")
    head = text[:65536]
    controls = sum(1 for ch in head if ord(ch) < 32 and ch not in "\t\r\n")
    if "\x00" in head or controls > max(2, len(head) // 100):
        raise InputFileError(
            msg(
                "{source} est un fichier binaire, pas un tableau : exportez les réponses en CSV, "
                "TSV ou XLSX.",
                source=source,
            ),
            path=file,
        )
    return text, used


def _unify_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _guess_sep(text: str) -> str:
    """Pick the separator that splits the first lines into the same, largest number of fields."""
    sample = "\n".join(_unify_newlines(text).split("\n")[:60])
    best: tuple[float, int, int] = (-1.0, 0, 0)
    chosen = ","
    for rank, sep in enumerate(_SEPARATORS):
        try:
            records = [r for r in csv.reader(io.StringIO(sample), delimiter=sep) if any(r)]
        except csv.Error:  # a field past csv's limit: the table's reading says so
            continue
        if not records or len(records[0]) < 2:
            continue
        width = len(records[0])
        same = sum(1 for r in records if len(r) == width) / len(records)
        score = (same, width, -rank)
        if score > best:
            best, chosen = score, sep
    return chosen


def _xlsx_cells(
    data: bytes, *, source: SourceName, file: str | None, sheet: str | int | None
) -> list[list[str]]:
    try:
        import openpyxl
    except ImportError as exc:  # pragma: no cover - openpyxl is a dependency
        raise InputFileError(
            msg(
                "{source} est un classeur XLSX et openpyxl n'est pas installé : installez-le "
                "(pip install openpyxl) ou exportez la feuille en CSV.",
                source=source,
            ),
            path=file,
        ) from exc
    _check_zip(data, source=source, file=file)
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a bad zip
        raise InputFileError(
            msg(
                "{source} est un fichier zip mais pas un classeur XLSX lisible ({type_name}) : "
                "enregistrez la feuille en XLSX ou en CSV.",
                source=source,
                type_name=type(exc).__name__,
            ),
            path=file,
        ) from exc
    names = book.sheetnames
    try:
        if sheet is None:
            ws = book[names[0]]
        elif isinstance(sheet, int):
            ws = book[names[sheet]]
        else:
            ws = book[sheet]
    except (KeyError, IndexError) as exc:
        raise InputFileError(
            msg(
                "{source} n'a pas de feuille {sheet!r} ; ses feuilles sont {names}.",
                source=source,
                sheet=sheet,
                names=names,
            ),
            path=file,
        ) from exc
    ws.reset_dimensions()  # the sheet's declared size may lie: read the rows it has
    rows: list[list[str]] = []
    n_cells = 0
    try:
        for values in ws.iter_rows(values_only=True):
            n_cells += len(values)
            if n_cells > LIMITS.max_cells:
                raise _too_big(source, file, msg("a plus de {n} cellules", n=LIMITS.max_cells))
            rows.append(_checked_row([_cell_text(v) for v in values], len(rows), source, file))
    finally:
        book.close()
    return rows


def _too_big(source: SourceName, file: str | None, what: Msg) -> InputFileError:
    return InputFileError(
        msg(
            "{source} {what}, plus qu'un export d'enquête : vérifiez que c'est le bon "
            "fichier, ou découpez-le.",
            source=source,
            what=what,
        ),
        path=file,
    )


def _checked_row(row: list[str], index: int, source: SourceName, file: str | None) -> list[str]:
    """Return ``row`` (the ``index``-th of the file, 0 = header) once it is within the limits."""
    if index > LIMITS.max_rows:
        raise _too_big(source, file, msg("a plus de {n} lignes", n=LIMITS.max_rows))
    width = len(row)
    while width and not row[width - 1]:
        width -= 1
    if width > LIMITS.max_columns:
        raise _too_big(
            source,
            file,
            msg("a plus de {n} colonnes (ligne {row})", n=LIMITS.max_columns, row=index + 1),
        )
    for column, cell in enumerate(row[:width], start=1):
        if len(cell) > LIMITS.max_cell_chars:
            raise _too_big(
                source,
                file,
                msg(
                    "a une cellule de {chars} caractères (ligne {row}, colonne {column}), plus "
                    "de {n}",
                    chars=len(cell),
                    row=index + 1,
                    column=column,
                    n=LIMITS.max_cell_chars,
                ),
            )
    return row


def _csv_cells(text: str, sep: str, *, source: SourceName, file: str | None) -> list[list[str]]:
    """Split a text table into stripped cells, within :data:`LIMITS`."""
    rows: list[list[str]] = []
    reader = csv.reader(io.StringIO(_unify_newlines(text)), delimiter=sep)
    try:
        for record in reader:
            rows.append(_checked_row([c.strip() for c in record], len(rows), source, file))
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):  # csv's own limit: 131 072 characters
            limit = csv.field_size_limit()
            raise _too_big(
                source,
                file,
                msg(
                    "a une cellule de plus de {limit} caractères (ligne {row})",
                    limit=limit,
                    row=reader.line_num,
                ),
            ) from exc
        raise InputFileError(
            msg(
                "{source} n'est pas un tableau lisible (ligne {row}) : exportez à nouveau "
                "les réponses en CSV, TSV ou XLSX.",
                source=source,
                row=reader.line_num,
                exc=exc,
            ),
            path=file,
        ) from exc
    return rows


def _check_zip(data: bytes, *, source: SourceName, file: str | None) -> None:
    """Refuse a workbook whose zip entries are too many, too large, or inflate too much.

    The sizes are the zip directory's: :mod:`zipfile` (which openpyxl reads through) never
    inflates an entry past its declared size.
    """
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return  # not a zip after all: openpyxl's reading says so
    if len(entries) > LIMITS.max_zip_entries:
        raise _too_big(
            source,
            file,
            msg(
                "est un zip de {entries} entrées, plus de {n}",
                entries=len(entries),
                n=LIMITS.max_zip_entries,
            ),
        )
    total = sum(e.file_size for e in entries)
    if total > LIMITS.max_unzipped_bytes:
        raise _too_big(
            source,
            file,
            msg(
                "se décompresse en {total} octets, plus de {n}",
                total=total,
                n=LIMITS.max_unzipped_bytes,
            ),
        )
    for e in entries:
        ratio = e.file_size / max(e.compress_size, 1)
        if e.file_size > _RATIO_FLOOR and ratio > LIMITS.max_zip_ratio:
            raise _too_big(
                source,
                file,
                msg(
                    "contient une entrée ({entry}) qui se décompresse {ratio:.0f} fois (une "
                    "bombe zip ?)",
                    entry=e.filename,
                    ratio=ratio,
                ),
            )


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value):
            return str(int(value))
        return repr(value)
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value).strip()


def is_missing(norm: str) -> bool:
    """Whether a normalised cell text means "no answer" (:data:`MISSING`)."""
    return norm in MISSING
