"""Survey files are read within bounds (issue 12, item 5): hostile files are refused clearly,
before they cost minutes and gigabytes; survey exports are read as before."""

from __future__ import annotations

import dataclasses
import io
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest

from qet_geo.errors import InputFileError
from qet_geo.surveys import tables as survey_tables
from qet_geo.surveys.su import read_su
from tests.api.factories import su_csv


def _workbook(rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _rezip(data: bytes, replace: dict[str, bytes]) -> bytes:
    """Return the workbook ``data`` with the entries of ``replace`` rewritten (deflated)."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            dst.writestr(info.filename, replace.get(info.filename, src.read(info.filename)))
    return out.getvalue()


def _su_rows(n: int) -> list[list[str]]:
    return [line.split("\t") for line in su_csv(n, seed=1).decode().splitlines()]


def _big_cell_workbook(n_chars: int) -> bytes:
    """A valid SU workbook whose one cell holds ``n_chars`` characters (a shared string)."""
    rows: list[list[object]] = list(_su_rows(20))
    rows[1][0] = "CELLULE"
    data = _workbook(rows)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = z.namelist()
        if "xl/sharedStrings.xml" in names:
            entry = "xl/sharedStrings.xml"
        else:  # openpyxl writes inline strings in the sheet
            entry = "xl/worksheets/sheet1.xml"
        xml = z.read(entry)
    assert b"CELLULE" in xml
    return _rezip(data, {entry: xml.replace(b"CELLULE", b"A" * n_chars)})


def test_survey_exports_are_read_as_before(tmp_path: Path) -> None:
    rows = _su_rows(60)
    book = tmp_path / "su.xlsx"
    book.write_bytes(_workbook(rows))
    text = tmp_path / "su.tsv"
    text.write_bytes(su_csv(60, seed=1))
    assert len(read_su(book).answers) == len(read_su(text).answers) == 60


def test_xlsx_zip_bomb_is_refused_before_parsing(tmp_path: Path) -> None:
    """A 4 MB workbook with one 4 GB cell took minutes and gigabytes: its entry inflates far
    more than a workbook's, and it is refused from the zip's directory alone."""
    bomb = _big_cell_workbook(20_000_000)
    assert len(bomb) < 100_000  # 20 MB of text in tens of kilobytes
    path = tmp_path / "bomb.xlsx"
    path.write_bytes(bomb)
    with pytest.raises(InputFileError, match=r"inflates \d+ times") as err:
        read_su(path)
    assert "bombe zip" in err.value.message_fr
    # the same from bytes (the API's way)
    with pytest.raises(InputFileError, match="inflates"):
        read_su(io.BytesIO(bomb))


def test_xlsx_too_large_unzipped_is_refused(tmp_path: Path, monkeypatch) -> None:
    """Past max_unzipped_bytes, even at an ordinary ratio, a workbook is refused unread."""
    monkeypatch.setattr(
        survey_tables,
        "LIMITS",
        dataclasses.replace(survey_tables.LIMITS, max_unzipped_bytes=30_000, max_zip_ratio=10**9),
    )
    with pytest.raises(InputFileError) as err:
        read_su(io.BytesIO(_big_cell_workbook(40_000)))
    assert "se décompresse en" in err.value.message_fr


def test_xlsx_big_cell_is_refused(tmp_path: Path) -> None:
    """A cell within the zip limits but past max_cell_chars is refused, named by row and column."""
    with pytest.raises(InputFileError, match=r"cell of 50000 characters \(row 2, column 1\)") as e:
        read_su(io.BytesIO(_big_cell_workbook(50_000)))
    assert "cellule de 50000 caractères" in e.value.message_fr


def _sheet_with_rows(data: bytes, rows_xml: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        xml = z.read("xl/worksheets/sheet1.xml")
    start, end = xml.index(b"<sheetData>") + len(b"<sheetData>"), xml.index(b"</sheetData>")
    return _rezip(data, {"xl/worksheets/sheet1.xml": xml[:start] + rows_xml + xml[end:]})


def test_xlsx_millions_of_rows_are_refused() -> None:
    """2.6 M rows in 1 MB: refused before parsing (their unzipped size), and a sheet whose one
    row is numbered 2 600 000 (openpyxl fills the gap with empty rows) at the row limit."""
    base = _workbook(_su_rows(20))
    dense = b"<row><c><v>1</v></c></row>" * 2_600_000  # rows need no number
    packed = _sheet_with_rows(base, dense)
    assert len(packed) < 1_000_000
    with pytest.raises(InputFileError) as err:
        read_su(io.BytesIO(packed))
    assert re.search("se décompresse en|bombe zip", err.value.message_fr)
    gap = _sheet_with_rows(
        base,
        b'<row r="1"><c r="A1" t="inlineStr"><is><t>id</t></is></c></row>'
        b'<row r="2600000"><c r="A2600000"><v>1</v></c></row>',
    )
    assert len(gap) < 10_000
    with pytest.raises(InputFileError) as err:
        read_su(io.BytesIO(gap))
    assert f"plus de {survey_tables.LIMITS.max_rows} lignes" in err.value.message_fr


def test_xlsx_cells_past_the_limit_are_refused(monkeypatch) -> None:
    """An empty cell at column XFD widens every row to 16 384 cells: cells are counted as read."""
    monkeypatch.setattr(
        survey_tables, "LIMITS", dataclasses.replace(survey_tables.LIMITS, max_cells=100_000)
    )
    rows = b"".join(b'<row r="%d"><c r="XFD%d" s="0"/></row>' % (i, i) for i in range(1, 50))
    with pytest.raises(InputFileError) as err:
        read_su(io.BytesIO(_sheet_with_rows(_workbook(_su_rows(20)), rows)))
    assert "plus de 100000 cellules" in err.value.message_fr


def test_csv_huge_cell_is_a_clear_error() -> None:
    """A 4.5 MB CSV cell was a 500 (csv's "field larger than field limit"); now refused clearly."""
    data = su_csv(20, seed=1).replace(b"R00000", b"R" * 4_500_000, 1)
    with pytest.raises(InputFileError) as err:
        read_su(io.BytesIO(data))
    assert "a une cellule de plus de 131072 caractères" in err.value.message_fr
    # below csv's limit, past the reader's
    data = su_csv(20, seed=1).replace(b"R00000", b"R" * 20_000, 1)
    with pytest.raises(InputFileError, match=r"cell of 20000 characters \(row 2, column 1\)"):
        read_su(io.BytesIO(data))


def test_csv_rows_columns_and_size_are_limited(tmp_path: Path, monkeypatch) -> None:
    data = su_csv(60, seed=1)
    path = tmp_path / "su.tsv"
    path.write_bytes(data)
    limits = dataclasses.replace(survey_tables.LIMITS, max_file_bytes=len(data) - 1)
    monkeypatch.setattr(survey_tables, "LIMITS", limits)
    with pytest.raises(InputFileError) as err:
        read_su(path)  # refused before reading
    assert f"dépasse {len(data) - 1} octets" in err.value.message_fr
    with pytest.raises(InputFileError, match="larger than"):
        read_su(io.BytesIO(data))
    limits = survey_tables.ReadLimits(max_rows=50, max_columns=40)
    monkeypatch.setattr(survey_tables, "LIMITS", limits)
    with pytest.raises(InputFileError) as err:
        read_su(path)
    assert "plus de 50 lignes" in err.value.message_fr
    assert len(read_su(io.BytesIO(su_csv(50, seed=1))).answers) == 50
    wide = su_csv(20, seed=1).replace(b"\n", b"\t" + b"x\t" * 50 + b"\n", 1)
    with pytest.raises(InputFileError) as err:
        read_su(io.BytesIO(wide))
    assert "plus de 40 colonnes (ligne 1)" in err.value.message_fr
