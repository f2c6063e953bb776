"""The synthetic label survives the CLI path: every format ``qet survey synthesize`` writes, read
back by ``qet diagnose``, keeps the banner; a file mixing synthetic and real answers is refused."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from qet_geo.cli.main import app
from qet_geo.errors import ValidationError
from qet_geo.surveys.su import read_su
from qet_geo.surveys.synthetic import survey_synthetic_label, synthetic_label
from tests.conftest import shared

LORIENT = shared("osm", "lorient_centre.osm.pbf")


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same 120 synthetic answers on Lorient in each format the command writes."""
    folder = tmp_path_factory.mktemp("synth")
    out = {}
    for suffix in ("csv", "gpkg", "parquet"):
        path = folder / f"syn.{suffix}"
        args = ["survey", "synthesize", str(LORIENT), "--out", str(path), "--n", "120"]
        res = CliRunner().invoke(app, [*args, "--seed", "4", "--json"])
        assert res.exit_code == 0, res.output
        out[suffix] = path
    return out


@pytest.mark.parametrize("suffix", ["csv", "gpkg", "parquet"])
def test_diagnose_keeps_the_banner_for_every_synthesized_format(
    tmp_path: Path, synthesized: dict[str, Path], suffix: str
) -> None:
    out = tmp_path / "report"
    args = ["diagnose", "--osm", str(LORIENT), "--survey", str(synthesized[suffix])]
    res = CliRunner().invoke(app, [*args, "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["synthetic"] is True and summary["answers"] == 120
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'id="synthetic-banner"' in index and "SYNTHÉTIQUES" in index


def test_diagnose_refuses_a_file_mixing_synthetic_and_real_answers(
    tmp_path: Path, synthesized: dict[str, Path]
) -> None:
    table = pd.read_csv(synthesized["csv"])
    # five answers relabelled as a survey's: real ids, synthetic flag false
    table.loc[:4, "respondent_id"] = [f"R{i}" for i in range(5)]
    table.loc[:4, "synthetic"] = False
    mixed = tmp_path / "mixed.csv"
    table.to_csv(mixed, index=False)
    out = tmp_path / "report"
    args = ["diagnose", "--osm", str(LORIENT), "--survey", str(mixed), "--out", str(out)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert "115 réponses synthétiques" in text and "5 réponses réelles" in text
    assert "fichiers séparés" in text and not out.exists()


def test_a_real_survey_is_not_labelled(tmp_path: Path, synthesized: dict[str, Path]) -> None:
    table = pd.read_csv(synthesized["csv"]).drop(columns=["synthetic"])
    table["respondent_id"] = [f"R{i}" for i in range(len(table))]
    real = tmp_path / "real.csv"
    table.to_csv(real, index=False)
    out = tmp_path / "report"
    args = ["diagnose", "--osm", str(LORIENT), "--survey", str(real), "--out", str(out), "--json"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout.strip().splitlines()[-1])["synthetic"] is False
    assert 'id="synthetic-banner"' not in (out / "index.html").read_text(encoding="utf-8")


def test_synthetic_label_by_ids_or_column() -> None:
    assert synthetic_label(["SYN-000001", "SYN-000002"]) is True
    assert synthetic_label(["a", "b"], ["True", "oui"]) is True
    assert synthetic_label(["a", "b"], [False, "0"]) is False
    assert synthetic_label([]) is False
    with pytest.raises(ValidationError) as err:
        synthetic_label(["SYN-1", "a", "b"], source="x.csv")
    assert "x.csv mélange 1 réponses synthétiques" in err.value.localized("fr")
    assert "mixes" in err.value.localized("en")


def test_survey_label_reads_the_column_the_reader_leaves_aside() -> None:
    data = (
        b"respondent_id,transportation_mode,meat_frequency,synthetic\n"
        b"a,1,2,true\nb,2,3,true\nc,3,1,true\n"
    )
    read = read_su(io.BytesIO(data))
    assert "synthetic" in read.ignored_columns
    assert survey_synthetic_label(read, io.BytesIO(data)) is True
    real = data.replace(b"true", b"false")
    assert survey_synthetic_label(read_su(io.BytesIO(real)), io.BytesIO(real)) is False
