"""Tests of qet_geo.surveys: reading SU, MdV and NGC files, and geocoding homes offline."""

from __future__ import annotations

import csv
import io
import json
import warnings
from collections import Counter
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from qet_geo.cli.survey import survey_app
from qet_geo.errors import (
    EmptyDataError,
    InputFileError,
    QetGeoError,
    QetGeoWarning,
    ValidationError,
)
from qet_geo.inputs.census import point_to_cell_id
from qet_geo.surveys.answers import SurveyRead
from qet_geo.surveys.geocode import (
    geocode_addresses,
    locate_homes,
    normalise_street,
    parse_address,
)
from qet_geo.surveys.mdv import read_mdv
from qet_geo.surveys.ngc import read_ngc
from qet_geo.surveys.schema import LEVEL_LABELS, USAGES
from qet_geo.surveys.su import read_su
from tests.conftest import shared

# The raw labels of NEAR's export as they appear in survey_0.tsv (truncated at commas), written out
# here rather than taken from the schema, so that the test checks the reader, not itself.
RAW_LEVELS = {
    "Aucun repas ou très rarement": 1,
    "Quelques repas": 2,
    "Tous les repas ou presque": 3,
    "Mobilités actives (vélo, marche": 1,
    "Transport en commun": 2,
    "Voiture individuelle": 3,
    "Faible": 1,
    "Bureautique, Internet": 2,
    "Jeux vidéos, streaming, vidéos": 3,
    "Occasion en priorité": 1,
    "Mélange occasion/neuf": 2,
    "Achat de neuf systématiquement": 3,
    "0": 1,
    "1 à 3": 2,
    "Plus de 3": 3,
    "électricité, réseau de chaleur,": 1,
    "Gaz": 2,
    "Fioul": 3,
}


@pytest.fixture(scope="module")
def survey_path() -> Path:
    return shared("surveys", "near_su", "survey_0.tsv")


@pytest.fixture(scope="module")
def raw_rows(survey_path: Path) -> list[list[str]]:
    with survey_path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle, delimiter="\t"))


@pytest.fixture(scope="module")
def survey(survey_path: Path) -> SurveyRead:
    with pytest.warns(QetGeoWarning, match="1 partial"):
        return read_su(survey_path)


def _write(path: Path, rows: list[list[str]], *, sep: str, encoding: str) -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=sep, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def _quiet_read(path: Path, **kwargs: object) -> SurveyRead:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QetGeoWarning)
        return read_su(path, **kwargs)  # type: ignore[arg-type]


# --- survey_0.tsv, as is ---------------------------------------------------------------------------


def test_survey_0_loads_as_is(survey: SurveyRead) -> None:
    assert survey.summary() == {
        "rows": 314,
        "accepted": 313,
        "partial": 1,
        "rejected": 0,
        "complete": 313,
    }
    assert (survey.encoding, survey.sep, survey.coding) == ("utf-8", "\t", "labels")
    assert survey.usages == USAGES
    assert list(survey.answers.columns) == list(USAGES)
    assert survey.answers.index.name == "respondent_id"
    assert all(str(dt) == "Int8" for dt in survey.answers.dtypes)
    assert len(survey.answers) == 314  # the partial row is kept, with <NA>
    assert len(survey.complete_rows()) == 313
    assert survey.ignored_columns == ()
    assert survey.locations.shape == (314, 0)


def test_survey_0_incomplete_row_is_reported(survey: SurveyRead) -> None:
    flagged = survey.report[survey.report["status"] != "accepted"]
    assert len(flagged) == 1
    line = flagged.iloc[0]
    assert (int(line["row"]), line["respondent_id"], line["status"]) == (82, "84", "partial")
    assert "air_travel_frequency" in line["reason_en"]
    assert "Avion" in line["reason_fr"]
    answer = survey.answers.loc["84"]
    assert pd.isna(answer["air_travel_frequency"])
    assert answer["transportation_mode"] == 3
    assert "84" not in survey.complete_rows().index


def test_survey_0_levels_match_the_raw_file(survey: SurveyRead, raw_rows: list[list[str]]) -> None:
    header, body = raw_rows[0], raw_rows[1:]
    for position, usage in enumerate(USAGES, start=1):
        raw = Counter(RAW_LEVELS[r[position]] for r in body if r[position])
        read = survey.answers[usage].value_counts().to_dict()
        assert {int(k): int(v) for k, v in read.items()} == dict(raw), header[position]
    assert int((survey.answers["transportation_mode"] == 3).sum()) == 82  # "Voiture individuelle"
    assert int((survey.answers["heat_source"] == 1).sum()) == 156  # "électricité, réseau..."
    assert list(survey.report["row"]) == list(range(2, 316))
    assert list(survey.report["respondent_id"]) == [r[0] for r in body]


@pytest.mark.parametrize(
    ("name", "sep", "encoding"),
    [("cp1252_semicolon.csv", ";", "cp1252"), ("bom_comma.csv", ",", "utf-8-sig")],
)
def test_reencoded_survey_loads_identically(
    tmp_path: Path,
    survey: SurveyRead,
    raw_rows: list[list[str]],
    name: str,
    sep: str,
    encoding: str,
) -> None:
    path = _write(tmp_path / name, raw_rows, sep=sep, encoding=encoding)
    read = _quiet_read(path)
    assert read.encoding == ("cp1252" if encoding == "cp1252" else "utf-8-sig")
    assert read.sep == sep
    pd.testing.assert_frame_equal(read.answers, survey.answers)
    pd.testing.assert_frame_equal(read.report, survey.report)


def test_xlsx_survey_loads_identically(
    tmp_path: Path, survey: SurveyRead, raw_rows: list[list[str]]
) -> None:
    frame = pd.DataFrame(raw_rows[1:], columns=raw_rows[0])
    frame["Identifiant"] = frame["Identifiant"].astype(int)  # numbers in Excel, as people type them
    path = tmp_path / "survey.xlsx"
    frame.to_excel(path, index=False)
    read = _quiet_read(path)
    assert (read.encoding, read.sep) == (None, None)
    pd.testing.assert_frame_equal(read.answers, survey.answers)
    assert read.summary() == survey.summary()
    # the same bytes under a misleading name are still read as a workbook
    renamed = tmp_path / "survey.csv"
    renamed.write_bytes(path.read_bytes())
    pd.testing.assert_frame_equal(_quiet_read(renamed).answers, survey.answers)


@pytest.mark.parametrize(("base", "coding"), [(1, "codes 1-3"), (0, "codes 0-2")])
def test_numeric_codes_load_identically(
    tmp_path: Path, survey: SurveyRead, raw_rows: list[list[str]], base: int, coding: str
) -> None:
    rows = [raw_rows[0]] + [
        [r[0], *(str(RAW_LEVELS[v] - 1 + base) if v else "" for v in r[1:])] for r in raw_rows[1:]
    ]
    path = _write(tmp_path / "codes.tsv", rows, sep="\t", encoding="utf-8")
    read = _quiet_read(path)
    assert read.coding == coding
    pd.testing.assert_frame_equal(read.answers, survey.answers)
    assert read.summary() == survey.summary()


def test_codes_only_one_and_two_are_ambiguous(tmp_path: Path) -> None:
    rows = [["id", "meat_frequency", "heat_source"], ["a", "1", "2"], ["b", "2", "1"]]
    path = _write(tmp_path / "codes.csv", rows, sep=",", encoding="utf-8")
    with pytest.warns(QetGeoWarning, match="code_base=0"):
        read = read_su(path)
    assert read.coding == "codes 1-3"
    assert read.answers.loc["a", "meat_frequency"] == 1
    forced = read_su(path, code_base=0)
    assert forced.coding == "codes 0-2"
    assert forced.answers.loc["a", "meat_frequency"] == 2


def test_codes_from_zero_to_three_are_refused(tmp_path: Path) -> None:
    rows = [["id", "meat_frequency"], ["a", "0"], ["b", "3"]]
    path = _write(tmp_path / "codes.csv", rows, sep=",", encoding="utf-8")
    with pytest.raises(ValidationError, match="code_base"):
        read_su(path)


def test_labels_forced_reject_numbers(tmp_path: Path) -> None:
    rows = [["id", "meat_frequency"], ["a", "1"], ["b", "Quelques repas"]]
    path = _write(tmp_path / "labels.csv", rows, sep=",", encoding="utf-8")
    with pytest.warns(QetGeoWarning):
        read = read_su(path, codes=False)
    assert list(read.report["status"]) == ["rejected", "accepted"]
    # what to do, in words a person filling a form can act on
    assert "write the answer in words" in read.report["reason_en"].iloc[0]
    assert "codes=True" not in read.report["reason_fr"].iloc[0]


# --- matching rules ----------------------------------------------------------------------------------


def test_labels_match_by_prefix_fuzzy_synonym_and_english(tmp_path: Path) -> None:
    rows = [
        ["respondent_id", "Viande", "Transport", "Chauffage"],
        ["p1", "quelques", "mobilites act", "ELECTRICITE"],  # prefixes, case, accents
        ["p2", "Tous les repas ou presque", "Transprot en commun", "gaz naturel"],  # typo
        ["p3", "MAJOR", "PUBLIC", "OIL"],  # NEAR's enum names
        ["p4", "Some meals", "Private car", "Fuel oil"],  # English labels
    ]
    path = _write(tmp_path / "variants.csv", rows, sep=";", encoding="utf-8")
    read = read_su(path)
    got = read.answers[["meat_frequency", "transportation_mode", "heat_source"]]
    assert got.to_numpy().tolist() == [[2, 1, 1], [3, 2, 2], [3, 2, 3], [2, 3, 3]]
    assert set(read.report["status"]) == {"accepted"}
    assert "close spelling" in read.report["reason_en"].iloc[1]
    assert read.usages == ("meat_frequency", "transportation_mode", "heat_source")
    assert any("digital_intensity" in note.render("en") for note in read.notes)


def test_unknown_label_rejects_only_that_row(
    tmp_path: Path, survey: SurveyRead, raw_rows: list[list[str]]
) -> None:
    rows = [list(r) for r in raw_rows]
    rows[5][2] = "Trottinette volante"
    path = _write(tmp_path / "unknown.tsv", rows, sep="\t", encoding="utf-8")
    with pytest.warns(QetGeoWarning, match="1 row"):
        read = read_su(path)
    rejected = read.report[read.report["status"] == "rejected"]
    assert list(rejected["row"]) == [6]
    assert "Trottinette volante" in rejected["reason_en"].iloc[0]
    assert "transportation_mode" in rejected["reason_en"].iloc[0]
    assert "Voiture individuelle" in rejected["reason_fr"].iloc[0]
    assert len(read.answers) == 313
    assert rows[5][0] not in read.answers.index


def test_duplicate_and_missing_ids_are_rejected(tmp_path: Path) -> None:
    rows = [
        ["Identifiant", "meat_frequency"],
        ["1", "Quelques repas"],
        ["1", "Quelques repas"],
        ["", "Quelques repas"],
        ["", ""],
        ["2", ""],
    ]
    path = _write(tmp_path / "ids.csv", rows, sep=",", encoding="utf-8")
    with pytest.warns(QetGeoWarning):
        read = read_su(path)
    assert list(read.report["status"]) == [
        "accepted",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
    ]
    reasons = list(read.report["reason_en"])
    assert "already on row 2" in reasons[1]
    assert "no respondent id" in reasons[2]
    assert "empty row" in reasons[3]
    assert "no usage answered" in reasons[4]
    assert list(read.answers.index) == ["1"]


def test_shifted_rows_and_multiline_answers(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text(
        "id,viande,avion\n"
        "1,Quelques repas,0,oops\n"  # an unquoted comma shifted this row
        '2,"Tous les repas\nou presque",Plus de 3\n'  # a quoted answer over two lines
        "3,Faible,0\n",
        encoding="utf-8",
    )
    with pytest.warns(QetGeoWarning, match="2 row"):
        read = read_su(path)
    assert list(read.report["status"]) == ["rejected", "accepted", "rejected"]
    assert "4 values where the header has 3" in read.report["reason_en"].iloc[0]
    assert read.answers.loc["2", "meat_frequency"] == 3
    assert read.ignored_columns == ()


def test_utf16_and_pipe_separated(
    tmp_path: Path, survey: SurveyRead, raw_rows: list[list[str]]
) -> None:
    path = _write(tmp_path / "excel_unicode.txt", raw_rows, sep="\t", encoding="utf-16")
    read = _quiet_read(path)
    assert read.encoding == "utf-16"
    pd.testing.assert_frame_equal(read.answers, survey.answers)
    piped = _quiet_read(_write(tmp_path / "pipe.csv", raw_rows, sep="|", encoding="utf-8"))
    assert piped.sep == "|"
    pd.testing.assert_frame_equal(piped.answers, survey.answers)


def test_no_id_column_uses_row_numbers(tmp_path: Path) -> None:
    rows = [["meat_frequency", "air_travel_frequency"], ["Quelques repas", "0"], ["Faible", "0"]]
    path = _write(tmp_path / "noid.csv", rows, sep=",", encoding="utf-8")
    with pytest.warns(QetGeoWarning):
        read = read_su(path)
    assert list(read.report["respondent_id"]) == ["2", "3"]
    assert list(read.report["status"]) == ["accepted", "rejected"]


def test_demographics_and_locations(tmp_path: Path) -> None:
    rows = [
        ["id", "Tranche d'âge", "Sexe", "CSP", "Viande", "Adresse", "Longitude", "Latitude"],
        [
            "a",
            "15-29 ans",
            "Femme",
            "Retraité",
            "Quelques repas",
            "2 rue Turenne",
            "-3.36",
            "47.75",
        ],
        ["b", "75 ans et plus", "H", "CS3", "Quelques repas", "", "", ""],
        ["c", "34", "autre", "37", "Quelques repas", "", "", ""],
        ["d", "trois", "F", "", "Quelques repas", "", "", ""],
    ]
    path = _write(tmp_path / "people.csv", rows, sep=";", encoding="utf-8")
    with pytest.warns(QetGeoWarning, match="1 partial"):
        read = read_su(path)
    answers = read.answers
    assert list(answers["age_band"].astype(object).fillna("NA")) == ["15-29", "75+", "30-44", "NA"]
    assert list(answers["gender"].astype(str)) == ["F", "M", "other", "F"]
    assert list(answers["csp"].astype(object).fillna("NA")) == ["CS7", "CS3", "CS3", "NA"]
    assert read.report["status"].iloc[3] == "partial"
    assert "age_band" in read.report["reason_en"].iloc[3]
    # locations never sit among the answers
    assert not {"address", "lon", "lat"} & set(answers.columns)
    assert read.locations.loc["a", "address"] == "2 rue Turenne"
    assert pd.isna(read.locations.loc["b", "lon"])


def test_su_keeps_the_building_key_with_the_locations(tmp_path: Path) -> None:
    """A located file's building_key (as qet survey synthesize writes it) is read, not ignored:
    it sits with the locations, never among the answers; rejected rows leave it out too."""
    rows = [
        ["respondent_id", "meat_frequency", "building_key", "lon", "lat"],
        ["a", "Quelques repas", "w123", "-3.36", "47.75"],
        ["b", "Quelques repas", "", "", ""],
        ["c", "Quelques repas", " r45 ", "", ""],
        ["a", "Quelques repas", "w999", "", ""],
    ]
    path = _write(tmp_path / "located.csv", rows, sep=";", encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read = read_su(path)
    assert not any("not recognised" in str(w.message) for w in caught)
    assert read.columns["building_key"] == "building_key"
    assert "building_key" not in read.ignored_columns
    assert "building_key" not in read.answers.columns
    assert list(read.locations.index) == ["a", "b", "c"]
    assert list(read.locations["building_key"].fillna("-")) == ["w123", "-", "r45"]
    assert read.locations.loc["a", "lon"] == "-3.36"
    # without the column, the locations are as before
    plain = _write(tmp_path / "plain.csv", [r[:2] for r in rows[:4]], sep=";", encoding="utf-8")
    assert read_su(plain).locations.shape == (3, 0)


def test_columns_override_and_ambiguity(tmp_path: Path) -> None:
    rows = [["id", "Viande", "Viande (bis)", "q1"], ["a", "Quelques repas", "Faible", "Gaz"]]
    path = _write(tmp_path / "cols.csv", rows, sep=",", encoding="utf-8")
    with pytest.warns(QetGeoWarning, match="not recognised"):
        read = read_su(path)
    assert read.columns["Viande"] == "meat_frequency"
    assert set(read.ignored_columns) == {"Viande (bis)", "q1"}
    forced = read_su(
        path,
        columns={"q1": "heat_source", "Viande (bis)": "digital_intensity"},
    )
    assert forced.answers.loc["a", "heat_source"] == 2
    assert forced.answers.loc["a", "digital_intensity"] == 1
    twice = [["id", "viande", "meat"], ["a", "Quelques repas", "Quelques repas"]]
    with pytest.raises(ValidationError, match="meat_frequency"):
        read_su(_write(tmp_path / "twice.csv", twice, sep=",", encoding="utf-8"))
    with pytest.raises(ValidationError, match="not a field"):
        read_su(path, columns={"q1": "nonsense"})


# --- bad input -------------------------------------------------------------------------------------


def test_empty_files_are_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(EmptyDataError, match="is empty") as err:
        read_su(empty)
    assert err.value.path == str(empty)
    assert "vide" in err.value.message_fr
    header_only = tmp_path / "header.tsv"
    header_only.write_text("Identifiant\tLors de vos repas, la viande est présente dans...\n")
    with pytest.raises(EmptyDataError, match="no answer row"):
        read_su(header_only)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (bytes(range(256)) * 8, "binary"),
        (b"\x89PNG\r\n\x1a\n" + bytes(64), "PNG"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64), "legacy Excel"),
        (b"PK\x03\x04" + bytes(64), "not a readable XLSX"),
    ],
)
def test_binary_files_are_refused(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "answers.csv"
    path.write_bytes(content)
    with pytest.raises(InputFileError, match=match) as err:
        read_su(path)
    assert err.value.message_fr != err.value.message


@pytest.mark.parametrize(
    ("content", "en", "fr"),
    [
        (bytes(range(256)) * 8, "is a binary file", "est un fichier binaire"),
        (b"", "is empty", "est vide"),
        (b"a,b\n1,2\n", "no SU column recognised", "aucune colonne SU reconnue"),
    ],
)
def test_a_file_object_without_a_name_is_named_in_each_language(
    content: bytes, en: str, fr: str
) -> None:
    """An upload is read from memory: no name, so each message names it in its own words."""
    with pytest.raises(QetGeoError) as err:
        read_su(io.BytesIO(content))
    assert err.value.message.startswith("the uploaded file") and en in err.value.message
    assert err.value.message_fr.startswith("le fichier envoyé") and fr in err.value.message_fr
    assert "uploaded" not in err.value.message_fr and "fichier" not in err.value.message
    named = io.BytesIO(content)
    named.name = "reponses.csv"
    with pytest.raises(QetGeoError) as err:
        read_su(named)
    assert err.value.message.startswith("reponses.csv")
    assert err.value.message_fr.startswith("reponses.csv")


def test_wrong_columns_are_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "other.csv", [["a", "b", "c"], ["1", "2", "3"]], sep=",", encoding="utf-8"
    )
    with pytest.raises(ValidationError, match="no SU column recognised") as err:
        read_su(path)
    assert "columns=" in str(err.value)
    ngc = [["id", "bilan", "alimentation", "transport"], ["a", "8000", "2000", "2500"]]
    ngc_path = _write(tmp_path / "ngc.csv", ngc, sep=",", encoding="utf-8")
    with pytest.raises(ValidationError, match="read_ngc"):
        read_su(ngc_path)


def test_missing_file_folder_and_bad_options(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="not found"):
        read_su(tmp_path / "nope.csv")
    with pytest.raises(InputFileError, match="folder"):
        read_su(tmp_path)
    path = _write(tmp_path / "ok.csv", [["meat_frequency"], ["Faible"]], sep=",", encoding="utf-8")
    with pytest.raises(ValidationError, match="sep"):
        read_su(path, sep="#")
    with pytest.raises(ValidationError, match="encoding"):
        read_su(path, encoding="klingon")
    with pytest.raises(ValidationError, match="code_base"):
        read_su(path, code_base=2)
    with pytest.raises(InputFileError, match="cp1252"):
        (tmp_path / "latin.csv").write_bytes("meat_frequency\nTrès\n".encode("cp1252"))
        read_su(tmp_path / "latin.csv", encoding="utf-8")


def test_file_object_input(survey_path: Path, survey: SurveyRead) -> None:
    with survey_path.open("rb") as handle, warnings.catch_warnings():
        warnings.simplefilter("ignore", QetGeoWarning)
        read = read_su(handle)
    pd.testing.assert_frame_equal(read.answers, survey.answers)


# --- MdV and NGC -----------------------------------------------------------------------------------


def test_read_mdv(tmp_path: Path) -> None:
    rows = [
        [
            "id",
            "easy_walking",
            "Est-il facile de se déplacer à vélo dans le quartier ?",
            "public_service_presence",
            "transport_mode_to_buy_food",
            "Temps de trajet pour les courses",
            "food_market_zone",
            "transport_mode_to_work",
            "transport_time_to_work",
            "want_to_reduce_car_usage",
            "reasons_to_continue_using_car",
            "meat_frequency",
        ],
        [
            "r1",
            "Oui",
            "non",
            "Je ne sais pas",
            "À pied",
            "Moins de 10 min",
            "Centre",
            "PUBLIC_TRANSPORT",
            "BETWEEN_20_AND_30_MIN",
            "J'aimerais mais je ne peux pas",
            "Pas de transport en commun à proximité; Prix",
            "Quelques repas",
        ],
        ["r2", "YES", "NO", "oui", "Voiture", "15", "", "CAR", ">45", "Non", "", "MAJOR"],
        ["r3", "oui", "oui", "oui", "Hélicoptère", "5", "", "", "", "", "", ""],
    ]
    path = _write(tmp_path / "mdv.csv", rows, sep=";", encoding="utf-8")
    with pytest.warns(QetGeoWarning):
        read = read_mdv(path)
    a = read.answers
    assert a.loc["r1", "easy_walking"] == "yes"
    assert a.loc["r1", "easy_cycling"] == "no"
    assert a.loc["r1", "satisfied_public_services"] == "dont_know"
    assert a.loc["r1", "food_mode"] == "walk"
    assert a.loc["r1", "food_time_band"] == "<10"
    assert a.loc["r2", "food_time_band"] == "10-20"  # minutes read into their band
    assert a.loc["r1", "food_zone"] == "Centre"
    assert a.loc["r1", "work_mode"] == "transit"
    assert a.loc["r1", "work_time_band"] == "20-30"
    assert a.loc["r1", "change_car"] == "wish_but_cannot"
    assert a.loc["r1", "change_car_reasons"] == "no_transit_nearby;price"
    assert a.loc["r2", "meat_frequency"] == 3
    assert a["work_time_band"].cat.ordered
    assert a.loc["r2", "work_time_band"] > a.loc["r1", "work_time_band"]
    statuses = dict(zip(read.report["respondent_id"], read.report["status"], strict=True))
    assert statuses == {"r1": "accepted", "r2": "partial", "r3": "rejected"}
    assert "Hélicoptère" in read.report["reason_en"].iloc[2]


def test_read_ngc(tmp_path: Path) -> None:
    rows = [
        [
            "id",
            "bilan",
            "alimentation",
            "transport",
            "transport . avion",
            "logement",
            "divers",
            "services sociétaux",
            "logement . chauffage",
        ],
        ["n1", "8,4", "2,1", "2,5", "0,8", "1,9", "0,7", "1,2", "1,1"],
        ["n2", "9,0", "2,0", "3,0", "3,5", "2,0", "0,8", "1,2", "1,0"],  # avion > transport
        ["n3", "7,5", "", "2,0", "0,0", "1,8", "0,9", "1,2", "0,9"],
        ["n4", "7,5", "-2", "2,0", "0,0", "1,8", "0,9", "1,2", "0,9"],
    ]
    path = _write(tmp_path / "ngc.csv", rows, sep=";", encoding="utf-8")
    with pytest.warns(QetGeoWarning, match="2 row"):
        read = read_ngc(path)
    assert read.coding == "tco2e"
    a = read.answers
    assert list(a.index) == ["n1", "n3"]
    assert a.loc["n1", "total"] == pytest.approx(8400.0)
    assert a.loc["n1", "transport_avion"] == pytest.approx(800.0)
    assert str(a["total"].dtype) == "Float64"
    assert pd.isna(a.loc["n3", "alimentation"])
    report = read.report.set_index("respondent_id")
    assert "transport_avion" in report.loc["n2", "reason_en"]
    assert "negative" in report.loc["n4", "reason_en"]
    assert report.loc["n3", "status"] == "partial"
    with pytest.warns(QetGeoWarning):
        kg = read_ngc(path, unit="kg")
    assert kg.answers.loc["n1", "total"] == pytest.approx(8.4)


def test_read_ngc_french_titles_header_units_and_checks(tmp_path: Path) -> None:
    rows = [
        [
            "simulation_id",
            "Empreinte totale (t)",
            "Alimentation (t)",
            "Transport (tCO2e/an)",
            "Logement [t]",
            "Divers tonnes",
            "Services publics et services marchands (t)",
            "Avion (kg)",
            "Vêtements",
        ],
        ["s1", "8,3", "2,0", "2,0", "1,7", "1,2", "1,4", "400", "300"],
        ["s2", "9,9", "2,0", "2,0", "1,7", "1,2", "1,4", "2 500", "150"],  # avion > transport
        ["s3", "6,0", "1,0", "1,0", "1,0", "1,0", "1,0", "0", "100"],  # categories: 5 t
    ]
    path = _write(tmp_path / "ngc.csv", rows, sep=";", encoding="utf-8")
    with pytest.warns(QetGeoWarning) as caught:
        read = read_ngc(path)
    messages = [str(w.message) for w in caught]
    assert any("transport_avion larger than transport" in m for m in messages)
    assert any("2 totals" in m and "differ from the sum" in m for m in messages)
    assert not any("no respondent identifier" in m for m in messages)
    assert read.coding == "mixed"
    assert read.columns["simulation_id"] == "respondent_id"
    assert read.columns["Services publics et services marchands (t)"] == "services_societaux"
    assert read.columns["Vêtements"] == "divers_textile"
    a = read.answers
    assert list(a.index) == ["s1", "s3"]  # s2 rejected: its flights exceed its transport
    assert a.loc["s1", "total"] == pytest.approx(8300.0)
    assert a.loc["s1", "logement"] == pytest.approx(1700.0)
    assert a.loc["s1", "divers"] == pytest.approx(1200.0)
    assert a.loc["s1", "transport_avion"] == pytest.approx(400.0)  # "(kg)": not converted
    assert a.loc["s1", "divers_textile"] == pytest.approx(300.0)  # no unit: kilograms
    report = read.report.set_index("respondent_id")
    assert "exceeds transport" in str(report.loc["s2", "reason_en"])
    assert "add up to 5000, not the total 6000" in str(report.loc["s3", "reason_en"])  # noted
    assert report.loc["s3", "status"] == "accepted"
    # a forced unit overrides the headers; here it is wrong, and the checks say so
    with pytest.warns(QetGeoWarning) as caught:
        kg = read_ngc(path, unit="kg")
    assert kg.coding == "kgco2e"
    assert kg.answers.empty
    assert "transport_avion (400) exceeds transport (2)" in kg.report["reason_en"].iloc[0]
    assert any("no row could be read" in str(w.message) for w in caught)


def test_read_ngc_without_id_numbers_respondents_from_one(tmp_path: Path) -> None:
    path = tmp_path / "no_id.csv"
    path.write_text("bilan,transport\n9000,2000\n,,\n7000,1500\n", encoding="utf-8")
    with pytest.warns(QetGeoWarning) as caught:
        read = read_ngc(path)
    assert any("no respondent identifier" in str(w.message) for w in caught)
    assert list(read.answers.index) == ["1", "2"]
    assert list(read.report["status"]) == ["accepted", "rejected", "accepted"]
    assert read.report["reason_en"].iloc[1].startswith("empty row")
    assert list(read.report["row"]) == [2, 3, 4]


def test_read_ngc_id_column(tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    path.write_text("code,id,bilan\nc1,x,9000\nc2,x,8000\n", encoding="utf-8")
    with pytest.warns(QetGeoWarning) as caught:
        by_id = read_ngc(path)  # "id" is recognised, and repeats
    assert any("1 row(s) rejected" in str(w.message) for w in caught)
    assert list(by_id.answers.index) == ["x"]
    with pytest.warns(QetGeoWarning, match=r"\['id'\] were not recognised"):
        by_code = read_ngc(path, id_column="code")
    assert list(by_code.answers.index) == ["c1", "c2"]
    assert by_code.summary()["rejected"] == 0
    with pytest.raises(ValidationError, match="'nope' is not in"):
        read_ngc(path, id_column="nope")
    with pytest.raises(ValidationError, match="different respondent id"):
        read_ngc(path, id_column="code", columns={"id": "respondent_id"})
    with pytest.raises(ValidationError, match="errors must be"):
        read_ngc(path, errors="ignore")  # type: ignore[arg-type]


def test_read_ngc_errors_raise(tmp_path: Path) -> None:
    header = "id,bilan,transport,transport . avion\n"
    ok = tmp_path / "ok.csv"
    ok.write_text(header + "a,9000,2000,3000\nb,8000,2000,500\n\n", encoding="utf-8")
    with pytest.warns(QetGeoWarning, match="these rows are kept"):
        kept = read_ngc(ok, errors="raise")
    assert list(kept.answers.index) == ["a", "b"]  # the sub-category above its category stays
    assert kept.report.set_index("respondent_id").loc["a", "status"] == "accepted"
    cases = {
        "a,9000,deux mille,3000\n": r"Column 'transport' .* not non-negative numbers .*deux mille",
        "a,9000,2000,300\na,8000,2000,500\n": r"Column 'id' .* duplicate identifiers \(e\.g\. 'a'\)",
        "a,9000,2000,300\n,8000,2000,500\n": "missing or duplicate identifiers",
        "a,9000,2000,300,extra\n": r"row 2 \(respondent 'a'\) cannot be read: 5 values",
    }
    for i, (body, match) in enumerate(cases.items()):
        path = tmp_path / f"bad{i}.csv"
        path.write_text(header + body, encoding="utf-8")
        with pytest.raises(ValidationError, match=match) as err:
            read_ngc(path, errors="raise")
        assert err.value.message_fr != err.value.message
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", QetGeoWarning)
            assert read_ngc(path).summary()["rejected"] == 1  # "reject" leaves the row out
    partial = tmp_path / "partial.csv"
    partial.write_text("id,transport,logement\na,2000,1700\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="neither a total nor the NGC categories"):
        read_ngc(partial, errors="raise")


# --- geocoding on Lorient's real addresses ---------------------------------------------------------


@pytest.fixture(scope="module")
def addresses(lorient) -> gpd.GeoDataFrame:  # type: ignore[no-untyped-def]
    return lorient.addresses


def _perturb(street: str, k: int) -> str:
    """Misspell a street as people type it: accents, abbreviations, apostrophes, case, typos."""
    import unicodedata

    text = street
    for full, short in (
        ("Rue", "r."),
        ("Boulevard", "Bd"),
        ("Place", "pl."),
        ("Avenue", "av."),
        ("Cours", "crs"),
        ("Quai", "qu."),
        ("Général", "Gal"),
        ("Maréchal", "Mal"),
    ):
        if k % 2 == 0:
            text = text.replace(full, short).replace(full.lower(), short)
    if k % 3 == 0:
        text = "".join(
            c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
        )
    text = text.replace("'", "’")
    if k % 4 == 1:
        text = text.upper()
    if k % 5 == 2:
        words = text.split()
        longest = max(range(len(words)), key=lambda i: len(words[i]))
        w = words[longest]
        if len(w) >= 6:  # swap two letters in the longest word
            words[longest] = w[:2] + w[3] + w[2] + w[4:]
        text = " ".join(words)
    return text


def test_lorient_addresses_geocode_to_themselves(
    lorient,
    addresses: gpd.GeoDataFrame,  # type: ignore[no-untyped-def]
) -> None:
    query = pd.Series(
        [
            f"{n}, {s} 56100 Lorient"
            for n, s in zip(addresses["housenumber"], addresses["street"], strict=True)
        ],
        index=addresses.index,
    )
    found = geocode_addresses(query, addresses, buildings=lorient.buildings)
    assert len(addresses) == 143
    numeric = addresses["housenumber"].str.match(r"^\d")
    assert (found.loc[numeric, "match"] == "housenumber").all()
    assert found.loc[~numeric, "match"].tolist() == ["street"]  # "Gare d'Echanges" is no number
    assert found["is_home"].sum() == numeric.sum()
    _assert_same_points(found[found["is_home"]], addresses)
    assert found.crs.to_epsg() == 2154
    # each home gets its building: the one carrying the address, else the nearest home building
    assert found.loc[found["is_home"], "building_key"].notna().mean() > 0.95
    on_building = addresses["building_key"].notna()
    assert (
        found.loc[on_building, "building_key"] == addresses.loc[on_building, "building_key"]
    ).all()


def _assert_same_points(found: gpd.GeoDataFrame, addresses: gpd.GeoDataFrame) -> None:
    """Each point is one of the extract's points for that street and number (OSM often tags the
    same address on a node and on its building: the building's is taken)."""
    key = addresses["street"].map(normalise_street) + "|" + addresses["housenumber"].str.lower()
    for idx, point in found.geometry.items():
        group = addresses.geometry[key == key[idx]]
        assert float(group.distance(point).min()) == 0.0, idx


def test_lorient_perturbed_addresses_geocode_back(addresses: gpd.GeoDataFrame) -> None:
    numeric = addresses[addresses["housenumber"].str.match(r"^\d")]
    texts = [
        f"{n} {_perturb(s, k)}" + (" Lorient" if k % 3 == 1 else "")
        for k, (n, s) in enumerate(zip(numeric["housenumber"], numeric["street"], strict=True))
    ]
    assert sum(t.split(" ", 1)[1] != s for t, s in zip(texts, numeric["street"], strict=True)) > 100
    found = geocode_addresses(pd.Series(texts, index=numeric.index), addresses)
    failed = found[found["match"] != "housenumber"]
    assert failed.empty, list(
        zip(failed.index, [texts[numeric.index.get_loc(i)] for i in failed.index], strict=True)
    )
    _assert_same_points(found, addresses)
    assert (found["score"] >= 85).all()


def test_non_existent_number_is_a_street_match_only(addresses: gpd.GeoDataFrame) -> None:
    query = pd.Series(
        ["999 rue du Port", "12 rue de Nulle Part", "rue de Liège", "Quai des Indes, 9"],
        index=["a", "b", "c", "d"],
    )
    found = geocode_addresses(query, addresses)
    assert list(found["match"]) == ["street", "none", "street", "housenumber"]
    assert list(found["is_home"]) == [False, False, False, True]
    assert found.geometry[["a", "b", "c"]].isna().all()
    assert found.loc["a", "street_matched"] == "Rue du Port"
    assert "not found" in found.loc["a", "reason_en"]
    assert "no house number" in found.loc["c", "reason_en"]


def test_address_parts_and_normalisation() -> None:
    assert parse_address("12 bis, r. du Port 56100 Lorient") == {
        "housenumber": "12bis",
        "street": "r. du Port",
        "postcode": "56100",
        "city": "Lorient",
    }
    assert parse_address("Quai des Indes 9")["housenumber"] == "9"
    assert parse_address("8 Av. du Faouëdic Lorient", cities=("Lorient",))["city"] == "Lorient"
    assert normalise_street("Bd du Gal Leclerc") == "boulevard general leclerc"
    assert normalise_street("Rue de l’Assemblée Nationale") == normalise_street(
        "RUE DE L'ASSEMBLEE NATIONALE"
    )
    assert normalise_street("pl. St-Louis") == "place saint louis"


def test_locate_homes_from_every_kind_of_location(
    lorient,
    addresses: gpd.GeoDataFrame,  # type: ignore[no-untyped-def]
) -> None:
    port = addresses[
        (addresses["street"] == "Rue du Port") & addresses["building_key"].isna()
    ].iloc[0]
    lonlat = gpd.GeoSeries([port.geometry], crs=2154).to_crs(4326).iloc[0]
    locations = pd.DataFrame(
        {
            "lon": [f"{lonlat.x:.7f}", None, None, None, None, "abc"],
            "lat": [f"{lonlat.y:.7f}", None, None, None, None, "47.7"],
            "cell_id": [None, "CRS3035RES200mN2768600E3343000", None, None, None, None],
            "address": [
                None,
                None,
                f"{port.housenumber} r. du port",
                "999 rue du Port",
                None,
                None,
            ],
            "iris_code": [None, None, None, None, "56121000101", None],
        },
        index=pd.Index(["p1", "p2", "p3", "p4", "p5", "p6"], name="respondent_id"),
    )
    locations.loc["p5", "iris_code"] = "561210101"
    with pytest.warns(QetGeoWarning, match="2 of 6 respondents could not be located"):
        found = locate_homes(locations, addresses=addresses, buildings=lorient.buildings)
    assert list(found["source"]) == ["coordinates", "cell", "address", "address", "iris", "none"]
    assert list(found["match"]) == ["coordinates", "cell", "housenumber", "street", "iris", "none"]
    assert list(found["is_home"]) == [True, False, True, False, False, False]
    assert found.geometry["p1"].distance(port.geometry) < 0.01
    assert found.geometry["p3"].distance(port.geometry) == 0.0
    assert found.loc["p2", "cell_id"] == "CRS3035RES200mN2768600E3343000"
    assert found.loc["p5", "iris_code"] == "561210101"
    assert found.loc[["p1", "p3"], "building_key"].notna().all()
    assert found.loc["p1", "building_key"] == found.loc["p3", "building_key"]
    assert "not valid coordinates" in found.loc["p6", "reason_en"]
    assert "address" not in found.columns  # no raw text is carried along


def test_locate_homes_errors(addresses: gpd.GeoDataFrame) -> None:
    with pytest.raises(ValidationError, match="no location column"):
        locate_homes(pd.DataFrame({"foo": ["x"]}))
    with pytest.raises(ValidationError, match="addresses="):
        locate_homes(pd.DataFrame({"address": ["1 rue du Port"]}))
    with pytest.raises(ValidationError, match="min_score"):
        geocode_addresses(pd.Series(["1 rue du Port"]), addresses, min_score=0)
    with pytest.raises(ValidationError, match="housenumber"):
        geocode_addresses(pd.Series(["1 rue du Port"]), addresses.drop(columns="housenumber"))


def test_locate_homes_feeds_cells(lorient, addresses: gpd.GeoDataFrame) -> None:  # type: ignore[no-untyped-def]
    sample = addresses.iloc[:20]
    locations = pd.DataFrame(
        {
            "address": [
                f"{n} {s}" for n, s in zip(sample["housenumber"], sample["street"], strict=True)
            ]
        },
        index=sample.index,
    )
    found = locate_homes(locations, addresses=addresses)
    homes = found[found["is_home"]]
    cells = point_to_cell_id(homes.geometry)
    assert cells.str.fullmatch(r"CRS3035RES200mN\d{7}E\d{7}").all()
    assert len(set(cells)) > 1


# --- CLI -------------------------------------------------------------------------------------------


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Test harness."""

    app.add_typer(survey_app, name="survey")
    return app


def test_cli_check_prints_the_report_in_french(cli: typer.Typer, survey_path: Path) -> None:
    result = CliRunner().invoke(cli, ["survey", "check", str(survey_path)])
    assert result.exit_code == 0, result.output
    assert "314 ligne(s) : 313 acceptée(s), 1 partielle(s), 0 rejetée(s)" in result.output
    assert "ligne 82 (id 84) partielle : pas de réponse à la question Avion" in result.output
    assert "séparateur tab" in result.output


def test_cli_check_json_and_english(
    cli: typer.Typer, survey_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import qet_geo.cli.main

    monkeypatch.setitem(qet_geo.cli.main._state, "lang", "en")
    result = CliRunner().invoke(cli, ["survey", "check", str(survey_path), "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["summary"]["complete"] == 313
    assert body["sep"] == "tab"
    assert body["rows"] == [
        {
            "row": 82,
            "respondent_id": "84",
            "status": "partial",
            "reason": "no answer to air_travel_frequency",
        }
    ]


def test_cli_check_codes_and_strict(cli: typer.Typer, tmp_path: Path) -> None:
    rows = [["id", "meat_frequency"], ["a", "1"], ["b", "9"], ["c", "3"]]
    path = _write(tmp_path / "codes.csv", rows, sep=",", encoding="utf-8")
    result = CliRunner().invoke(cli, ["survey", "check", str(path), "--codes", "--strict"])
    assert result.exit_code == 1
    assert "codes 1/2/3" in result.output
    assert "ligne 3 (id b) rejetée" in result.output


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--kind", "xyz"], "--kind xyz"),
        (["--sep", "#"], "séparateur"),
        (["--kind", "ngc", "--labels"], "--codes/--labels"),
    ],
)
def test_cli_check_bad_input_exits_2(
    cli: typer.Typer, survey_path: Path, args: list[str], match: str
) -> None:
    result = CliRunner().invoke(cli, ["survey", "check", str(survey_path), *args])
    assert result.exit_code == 2
    assert match in result.output
    assert "Traceback" not in result.output


def test_cli_check_unreadable_file_exits_2(cli: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "image.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(32))
    result = CliRunner().invoke(cli, ["survey", "check", str(path)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "PNG" in lines[0]


def test_schema_levels_cover_the_raw_labels() -> None:
    for usage in USAGES:
        assert set(LEVEL_LABELS[usage]) == {1, 2, 3}
    assert np.array_equal(sorted(set(RAW_LEVELS.values())), [1, 2, 3])
