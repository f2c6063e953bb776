"""The SU and MdV/EdV questionnaires as XLSForm workbooks (qet_geo.surveys.forms).

The workbook converts to an XForm with pyxform (the XLSForm reference converter that
KoboToolbox and ODK use) without a warning, in French and English; an export of filled forms,
with the columns and values such tools write (XML values and headers, their metadata columns,
a geopoint split in latitude and longitude, a multiple choice as space-separated names), is read
back by the survey readers with every answer as given; an export with labels too.
"""

from __future__ import annotations

import csv
import io
import random
import warnings
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pyxform.xls2xform import convert

from qet_geo.errors import ValidationError
from qet_geo.surveys.forms import FORM_KINDS, form_questions, xlsform
from qet_geo.surveys.mdv import read_mdv
from qet_geo.surveys.schema import AGE_BANDS, TIME_BANDS, TRAVEL_MODES, USAGES
from qet_geo.surveys.su import read_su

#: Columns KoboToolbox adds to every export.
KOBO_META = ["start", "end", "__version__", "_id", "_uuid", "_submission_time", "_index"]


def _sheets(book: bytes) -> dict[str, list[list[str]]]:
    wb = load_workbook(io.BytesIO(book))
    return {
        ws.title: [
            ["" if c is None else str(c) for c in row] for row in ws.iter_rows(values_only=True)
        ]
        for ws in wb.worksheets
    }


@pytest.mark.parametrize("kind", FORM_KINDS)
def test_the_form_converts_to_an_xform_without_warning(kind: str, tmp_path: Path) -> None:
    path = tmp_path / f"{kind}.xlsx"
    path.write_bytes(xlsform(kind, version="2026.12"))
    done = convert(xlsform=str(path))
    assert done.warnings == []
    assert "<h:title>Quartiers en Transitions" in done.xform
    # every question the readers need is in the XForm, and both languages
    for q in form_questions(kind):
        assert f"/{q.name}" in done.xform
    assert 'lang="Français (fr)"' in done.xform and 'lang="English (en)"' in done.xform
    sheets = _sheets(path.read_bytes())
    assert sheets["settings"][1][2] == "2026.12"
    names = [row[1] for row in sheets["survey"][1:]]
    assert len(names) == len(set(names))
    # every choice list used is defined, and no label is left empty in either language
    lists = {row[0] for row in sheets["choices"][1:]}
    assert {q.list_name for q in form_questions(kind) if q.list_name} == lists
    assert all(row[2] and row[3] for row in sheets["choices"][1:])


def test_an_unknown_questionnaire_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown questionnaire"):
        xlsform("ngc", version="1")


def _export(kind: str, n: int, seed: int) -> tuple[bytes, list[dict[str, str]]]:
    """A CSV of ``n`` filled forms as KoboToolbox writes it (XML values and headers)."""
    rng = random.Random(seed)
    questions = form_questions(kind)
    rows = []
    for i in range(n):
        row = {m: "" for m in KOBO_META}
        row.update({"_id": str(1000 + i), "_uuid": f"uuid-{i}", "__version__": "v1"})
        for q in questions:
            if q.type == "calculate":
                row[q.name] = f"resp-{seed}-{i}"
            elif q.type.startswith("select_one"):
                row[q.name] = rng.choice(q.choices).name
            elif q.type.startswith("select_multiple"):
                picked = rng.sample(q.choices, k=rng.randint(1, 3))
                row[q.name] = " ".join(c.name for c in picked)
            elif q.type == "geopoint":
                lat, lon = 47.75 + i * 1e-4, -3.36
                row[q.name] = f"{lat} {lon} 0 5"
                row[f"_{q.name}_latitude"] = str(lat)
                row[f"_{q.name}_longitude"] = str(lon)
                row[f"_{q.name}_altitude"] = "0"
                row[f"_{q.name}_precision"] = "5"
            elif q.type == "text":
                row[q.name] = "3 rue de Liège" if q.name == "address" else "Lorient"
        rows.append(row)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), delimiter=";")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8"), rows


def test_an_su_export_reads_back_every_answer() -> None:
    data, rows = _export("su", 40, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the form tool's own columns are not worth a warning
        read = read_su(io.BytesIO(data))
    assert (read.report["status"] == "accepted").all()
    assert read.usages == USAGES
    levels = {q.name: [c.name for c in q.choices] for q in form_questions("su")}
    for row in rows:
        answers = read.answers.loc[row["respondent_id"]]
        for usage in USAGES:
            assert answers[usage] == levels[usage].index(row[usage]) + 1
        band = AGE_BANDS[levels["age_band"].index(row["age_band"])]
        assert answers["age_band"] == band
        assert answers["gender"] == row["gender"]
        assert answers["csp"] == row["csp"]
    # the home: the point placed on the map and the address, kept apart from the answers
    assert {"lat", "lon", "address"} <= set(read.locations.columns)
    first = rows[0]["respondent_id"]
    assert float(read.locations.loc[first, "lat"]) == pytest.approx(47.75)
    assert float(read.locations.loc[first, "lon"]) == pytest.approx(-3.36)


def test_an_mdv_export_reads_back_every_answer() -> None:
    data, rows = _export("mdv", 40, seed=4)
    read = read_mdv(io.BytesIO(data))
    assert (read.report["status"] == "accepted").all()
    questions = {q.name: q for q in form_questions("mdv")}
    times = [c.name for c in questions["food_time_band"].choices]
    for row in rows:
        answers = read.answers.loc[row["respondent_id"]]
        assert answers["easy_walking"] == row["easy_walking"]
        assert answers["satisfied_repair_shops"] == row["satisfied_repair_shops"]
        modes = [c.name for c in questions["work_mode"].choices]
        assert answers["work_mode"] == TRAVEL_MODES[modes.index(row["work_mode"])]
        assert answers["leisure_time_band"] == TIME_BANDS[times.index(row["leisure_time_band"])]
        assert answers["change_meat"] == row["change_meat"]
        # several reasons, as the form tool writes them: each one kept, none read as "other"
        assert set(str(answers["change_car_reasons"]).split(";")) == set(
            row["change_car_reasons"].split()
        )


def test_an_su_export_with_labels_reads_back() -> None:
    """The other export of form tools: question labels as headers, answer labels as values."""
    questions = [q for q in form_questions("su") if q.type.startswith("select_one")]
    rng = random.Random(5)
    header = ["respondent_id", *(q.label.render("fr") for q in questions if q.label)]
    lines, expected = [header], []
    for i in range(25):
        picks = [rng.randrange(len(q.choices)) for q in questions]
        lines.append(
            [
                f"r{i}",
                *(q.choices[p].label.render("fr") for q, p in zip(questions, picks, strict=True)),
            ]
        )
        expected.append(dict(zip((q.name for q in questions), picks, strict=True)))
    out = io.StringIO()
    csv.writer(out, delimiter=";").writerows(lines)
    read = read_su(io.BytesIO(out.getvalue().encode("utf-8")))
    assert (read.report["status"] == "accepted").all()
    for i, picks in enumerate(expected):
        answers = read.answers.loc[f"r{i}"]
        for usage in USAGES:
            assert answers[usage] == picks[usage] + 1
        assert answers["age_band"] == AGE_BANDS[picks["age_band"]]
