"""`qet demo` / `qet diagnose`: the whole chain on Lorient, the report, the config, atomicity."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from qet_geo.cli.main import app
from qet_geo.errors import InputFileError, ValidationError
from qet_geo.exhibition.diagnose import DiagnosticConfig, load_config
from tests.conftest import shared

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
REMOTE = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.I)


@pytest.fixture(scope="module")
def demo(demo_run) -> tuple[Path, dict]:
    return demo_run("fr")


def test_demo_writes_the_whole_report(demo):
    out, summary = demo
    assert summary["synthetic"] is True and summary["answers"] == 400
    assert set(summary["timings_s"]) == {
        "layers",
        "access",
        "surveys",
        "profiles",
        "footprints",
        "links",
        "maps",
        "route",
        "report",
    }
    index = (out / "index.html").read_text(encoding="utf-8")
    # labelled synthetic, in French, with every section
    assert 'id="synthetic-banner"' in index and "SYNTHÉTIQUES" in index
    for section in ("vote", "profiles", "constraints", "maps", "links", "route", "files"):
        assert f"id='{section}'" in index
    text = html.unescape(index)
    assert "Thèmes à mettre au vote" in text and "Profils d'usages" in text
    # every linked file exists, and nothing is loaded from another host
    for target in re.findall(r"(?:src|href)='([^']+)'", index):
        assert (out / target).exists(), target
    assert not REMOTE.search(index)
    for page in (out / "maps").glob("*.html"):
        assert not REMOTE.search(re.sub(r"<a [^>]*>", "", page.read_text(encoding="utf-8")))
    assert (out / "route" / "visite.gpx").exists()
    # every table made from the answers carries their label; the extract's tables do not
    from qet_geo.exhibition._tables import FROM_ANSWERS

    for name in FROM_ANSWERS:
        table = pd.read_csv(out / "tables" / f"{name}.csv")
        assert table["synthetic"].astype(bool).all(), name
    assert "synthetic" not in pd.read_csv(out / "tables" / "constraints.csv").columns
    # the map drawn from the answers says they are synthetic, on the map itself
    profiles_map = html.unescape((out / "maps" / "profiles.html").read_text(encoding="utf-8"))
    assert "SYNTHÉTIQUES (démonstration) : ces chiffres ne sont pas un résultat" in profiles_map
    # the visit is a loop and the report gives its way back, as the route's GeoJSON has it
    legs = json.loads((out / "route" / "visite.geojson").read_text(encoding="utf-8"))["features"]
    back = [f["properties"] for f in legs if f["properties"].get("is_return")]
    assert len(back) == 1
    metres = f"{round(back[0]['length_m']):,}".replace(",", "\u202f")
    assert (
        f"C'est une boucle : le retour de la dernière étape au point de départ fait {metres}"
        in text
    )
    gpkg = gpd.read_file(out / "layers.gpkg", layer="amenities")
    assert len(gpkg) > 300


def test_report_tables_are_protected_and_consistent(demo):
    out, _ = demo
    profiles = pd.read_csv(out / "tables" / "profiles.csv")
    # no published profile figure rests on 1 to 10 answers, and none is missing from the total
    assert (profiles["n"] >= 11).all()
    assert profiles["n"].sum() == 400
    assert profiles["share_pct"].sum() == pytest.approx(100, abs=0.5)
    themes = pd.read_csv(out / "tables" / "vote_themes.csv")
    assert list(themes["potential"]) == sorted(themes["potential"], reverse=True)
    assert len(themes) == 6
    usages = pd.read_csv(out / "tables" / "footprints_by_usage.csv")
    assert (usages["france"] > 0).all() and (usages["neighbourhood"] > 0).all()


def test_config_file(tmp_path):
    cfg = tmp_path / "quartier.toml"
    cfg.write_text(
        f'name = "Nantes hyper-centre"\nosm = "{shared("osm", "nantes_hypercentre.osm.pbf")}"\n'
        'synthetic = 200\nprofile_method = "near"\n'
    )
    loaded = load_config(cfg)
    assert loaded.synthetic == 200 and loaded.profile_method == "near"
    out = tmp_path / "out"
    res = runner.invoke(app, ["diagnose", "--config", str(cfg), "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    assert "Nantes hyper-centre" in html.unescape((out / "index.html").read_text(encoding="utf-8"))
    # NEAR's method makes small profiles: they are pooled, never shown alone nor dropped
    profiles = pd.read_csv(out / "tables" / "profiles.csv")
    assert (profiles["n"] >= 11).all() and profiles["n"].sum() == 200


def test_bad_configs(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('osm = "x.osm.pbf"\nsynthetic = 10\ncolour = "red"\n')
    with pytest.raises(ValidationError, match="colour"):
        load_config(bad)
    bad.write_text("osm = [unclosed\n")
    with pytest.raises(InputFileError, match="TOML"):
        load_config(bad)
    with pytest.raises(ValidationError, match="survey"):
        DiagnosticConfig(osm=Path("x.osm.pbf"))
    with pytest.raises(ValidationError, match="not both"):
        DiagnosticConfig(osm=Path("x.osm.pbf"), survey=Path("a.gpkg"), synthetic=10)
    res = runner.invoke(
        app, ["diagnose", "--config", str(tmp_path / "none.toml"), "--out", str(tmp_path / "o")]
    )
    assert res.exit_code == 2 and "introuvable" in res.output


def test_failed_run_keeps_the_previous_report(tmp_path, demo):
    out, _ = demo
    before = (out / "index.html").read_bytes()
    res = runner.invoke(
        app,
        [
            "diagnose",
            "--osm",
            str(tmp_path / "absent.osm.pbf"),
            "--synthetic",
            "50",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert (out / "index.html").read_bytes() == before
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".report.")]


def test_report_in_a_real_browser(demo):
    """The exhibition opens offline: sections shown, maps framed, no outside request."""
    from tests.browser import open_page

    out, _ = demo
    shot = ROOT / "test-artifacts" / "report" / "index.png"
    run = open_page(out / "index.html", screenshot=shot, size=(1200, 2400), budget_ms=8000)
    assert "Diagnostic du quartier" in run.dom
    assert run.dom.count("<iframe") == len(list((out / "maps").glob("*.html")))
    assert "synthetic-banner" in run.dom
    assert run.requests == [], run.requests
    assert run.console_errors == [], run.console_errors
    assert run.screenshot is not None and run.screenshot.stat().st_size > 50_000


def test_small_profiles_are_pooled_not_shown_nor_dropped():
    from qet_geo.exhibition._tables import profile_rows

    class Fitted:
        def __init__(self, sizes):
            self.sizes = sizes

        def to_dict(self, lang="fr"):
            return {
                "profiles": [
                    {"profile": i, "n": n, "share_pct": 0.0, "description": f"profil {i}"}
                    for i, n in enumerate(self.sizes)
                ]
            }

    for sizes in ([100, 30, 5, 4], [100, 30, 6, 7], [100, 30, 3]):
        labels = pd.Series(np.repeat(np.arange(len(sizes)), sizes))
        fp = pd.DataFrame({"total_kgco2e": np.arange(labels.size, dtype=float)})
        rows = profile_rows(Fitted(sizes), labels, fp, "fr")
        assert all(r["n"] >= 11 for r in rows)
        assert sum(r["n"] for r in rows) == sum(sizes)
        assert sum(r["share_pct"] for r in rows) == pytest.approx(100)


def test_too_few_answers_publish_nothing(tmp_path, lorient_pbf):
    res = runner.invoke(
        app,
        ["diagnose", "--osm", str(lorient_pbf), "--synthetic", "8", "--out", str(tmp_path / "o")],
    )
    assert res.exit_code == 2 and "secret statistique" in res.output
    assert not (tmp_path / "o").exists()


def test_the_report_folder_is_readable_by_a_web_server(demo) -> None:
    out, _ = demo
    for folder in [out, *(p for p in out.rglob("*") if p.is_dir())]:
        mode = folder.stat().st_mode & 0o777
        assert mode & 0o055 == 0o055, f"{folder} is {oct(mode)}: a web server could not read it"


def test_the_report_credits_only_the_data_it_used(demo) -> None:
    out, _ = demo
    page = (out / "index.html").read_text(encoding="utf-8")
    footer = page[page.index("<footer>") : page.index("</footer>")]
    assert "OpenStreetMap" in footer and "SYNTHÉTIQUES" in footer
    # the demo reads no census, relief or timetable: no INSEE credit, no GTFS credit
    assert "INSEE" not in footer and "GTFS" not in footer and "terrain" not in footer


def test_a_vote_theme_never_promises_more_than_its_footprint(demo) -> None:
    out, _ = demo
    themes = pd.read_csv(out / "tables" / "vote_themes.csv")
    assert {"footprint", "potential", "built"} <= set(themes.columns)
    assert (themes["potential"] <= themes["footprint"] + 1e-9).all()
    assert (themes["built"] <= themes["potential"] + 1e-9).all() and (themes["built"] >= 0).all()
    assert (themes["potential"] > 0).any()
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "ne s'y ajoute pas" in page  # the report says how the potential is computed
