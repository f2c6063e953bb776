"""Releases carry the links, margins of manoeuvre and vote themes, as ``qet diagnose`` makes them.

A neighbourhood over the shared Lorient extract with its territory, labelled-synthetic SU answers
on its real buildings (``SYN-`` ids, located by their home's point, stored at their 200 m cell as
the service stores every answer), the analysis job (which keeps the per-home access tables beside
the extract), then releases: the stored tables are those
:func:`qet_geo.analysis.links.link_report` and the report's rows give on the same set, and rule 5
holds for the other surveys' parts.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.engine import Engine

from qet_geo.analysis.footprint import read_ngc_scale, su_footprints
from qet_geo.analysis.links import link_report
from qet_geo.crs import WGS84
from qet_geo.exhibition._tables import (
    constraint_rows,
    margin_rows,
    margins_left_out,
    model_rows,
    vote_rows,
)
from qet_geo.privacy import DisclosureError
from qet_geo.store import ingest, releases
from qet_geo.store import models as store
from qet_geo.store.ingest import FOOTPRINT_SCALE
from qet_geo.store.jobs import (
    ANALYSIS_STEP_LABELS,
    ANALYSIS_STEPS,
    access_key,
    home_access,
    run_analysis,
    store_extract,
    territory_from_geojson,
)
from qet_geo.store.models import territory_geometry
from qet_geo.store.releases import (
    LINK_BOOTSTRAP,
    LINK_SEED,
    building_keys,
    cell_access,
    create_release,
    link_answers,
    release_set,
)
from qet_geo.surveys.schema import USAGE_LABELS, USAGES
from tests.api.conftest import LORIENT_TERRITORY
from tests.conftest import shared


def synthetic_su(n: int, *, seed: int) -> bytes:
    """``n`` labelled-synthetic SU answers on Lorient centre's real buildings, as a CSV file."""
    from qet_geo.pipeline import build_neighbourhood
    from qet_geo.surveys.synthetic import synthesize_answers

    territory = _territory()
    hood = build_neighbourhood(shared("osm", "lorient_centre.osm.gz"), territory=territory)
    answers = synthesize_answers(hood.layers, n, seed=seed, access=hood.access["walk"])
    frame = answers.reset_index()
    points = frame.geometry.to_crs(WGS84)
    table = pd.DataFrame(frame.drop(columns=frame.geometry.name)).assign(
        lon=points.x.round(6).to_numpy(), lat=points.y.round(6).to_numpy()
    )
    return table.to_csv(index=False).encode()


def _territory() -> Any:
    from qet_geo.inputs.territory import Territory

    return Territory(
        name="Lorient centre", geometry=territory_from_geojson(LORIENT_TERRITORY), source="test"
    )


@dataclass
class World:
    engine: Engine
    osm: Path
    hood: int
    diag: int
    seconds: float


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("links")
    osm = folder / "osm"
    osm.mkdir()
    engine = store.make_engine(f"sqlite:///{folder / 'qet.db'}")
    store.create_schema(engine)
    with store.session_scope(engine) as s:
        hood = store.add_neighbourhood(
            s, name="Lorient centre", territory_wkt=territory_from_geojson(LORIENT_TERRITORY).wkt
        )
        diag = store.Diagnostic(neighbourhood_id=hood.id, year=0)
        s.add(diag)
        s.flush()
        hood_id, diag_id = hood.id, diag.id
    upload = osm / "upload.osm.gz"
    shutil.copyfile(shared("osm", "lorient_centre.osm.gz"), upload)
    store_extract(engine, hood_id, upload, osm_dir=osm)
    ingest.ingest_su(engine, diag_id, synthetic_su(150, seed=3))
    t0 = time.perf_counter()
    assert run_analysis(engine, diag_id, osm_dir=osm) is not None
    seconds = time.perf_counter() - t0
    yield World(engine, osm, hood_id, diag_id, seconds)
    engine.dispose()


@pytest.fixture(scope="module")
def first(world: World) -> store.Release:
    return create_release(world.engine, world.diag, osm_dir=world.osm)


def _hood(world: World) -> store.Neighbourhood:
    with store.session_scope(world.engine) as s:
        hood = s.get(store.Neighbourhood, world.hood)
        assert hood is not None
        s.expunge(hood)
        return hood


def test_the_job_keeps_the_access_tables_and_names_its_steps(world: World) -> None:
    assert ANALYSIS_STEPS.index("bike") < ANALYSIS_STEPS.index("links") < len(ANALYSIS_STEPS)
    for step in ANALYSIS_STEPS:
        assert ANALYSIS_STEP_LABELS[step].render("en") != ANALYSIS_STEP_LABELS[step].render("fr")
    tables = home_access(world.osm, _hood(world))
    assert tables is not None
    walk, bike = tables
    assert bike is not None and walk.index.equals(bike.index) and len(walk) > 500
    assert {"score_15min", "food_shop_min", "weight"} <= set(walk.columns)
    assert walk.geometry.notna().all()
    # no temporary file left beside them (the results page's kept preview is a file of its own)
    hidden = [p for p in world.osm.iterdir() if p.name.startswith(".")]
    kept = [p for p in hidden if p.name.startswith(".preview-") and "-tmp-" not in p.name]
    assert hidden == kept
    assert world.seconds < 60


def test_a_new_territory_or_extract_invalidates_the_tables(world: World) -> None:
    hood = _hood(world)
    other = store.Neighbourhood(
        name=hood.name,
        osm_extract=hood.osm_extract,
        territory_wkt=_territory().geometry.buffer(-50).wkt,
    )
    assert home_access(world.osm, other) is None
    assert (
        home_access(world.osm, store.Neighbourhood(name="x", territory_wkt=hood.territory_wkt))
        is None
    )
    assert home_access(None, hood) is None
    # an unreadable table is as good as none (the next analysis writes it again)
    bogus = store.Neighbourhood(
        name="x", osm_extract="bogus.osm.pbf", territory_wkt=hood.territory_wkt
    )
    key = access_key("bogus.osm.pbf", territory_geometry(bogus))
    (world.osm / f"bogus.osm.pbf.access-{key}-walk.parquet").write_bytes(b"not parquet")
    assert home_access(world.osm, bogus) is None


def _expected(world: World, lang: str) -> dict[str, object]:
    """What ``qet diagnose`` makes of the same release set, through the same library calls."""
    with store.session_scope(world.engine) as s:
        chosen = release_set(ingest.respondents_frame(s, world.diag))
        answers = link_answers(chosen, building_keys(s, world.diag))
    tables = home_access(world.osm, _hood(world))
    assert tables is not None
    walk = tables[0]
    links = link_report(
        answers,
        walk,
        scale=FOOTPRINT_SCALE,
        cell_access=cell_access(walk),
        n_bootstrap=LINK_BOOTSTRAP,
        random_state=LINK_SEED,
        lang=lang,  # type: ignore[arg-type]
    )
    footprints = su_footprints(answers[list(USAGES)], scale=FOOTPRINT_SCALE)
    labels = {u: USAGE_LABELS[u].render(lang) for u in USAGES}
    made = {
        "models": model_rows(links),
        "margins": margin_rows(links),
        "left_out": margins_left_out(links, lang),
        "votes": vote_rows(footprints, read_ngc_scale(), links, labels),
    }
    # as the store keeps JSON: NaN as null
    return json.loads(json.dumps(made).replace("NaN", "null"))


def test_the_release_holds_what_link_report_gives_on_its_set(
    world: World, first: store.Release
) -> None:
    links = first.figures["links"]
    assert links["status"] == "ok"
    assert (links["n_bootstrap"], links["random_state"]) == (100, 0)
    for lang in ("fr", "en"):
        assert links[lang] == _expected(world, lang)
    fr, en = links["fr"], links["en"]
    assert fr["models"], "some link is estimated on 150 answers"
    assert fr["margins"] and fr["votes"]
    assert [r["odds_ratio"] for r in fr["models"]] == [r["odds_ratio"] for r in en["models"]]
    assert fr["votes"][0]["theme"] != en["votes"][0]["theme"]
    # the frequent-stops scenario needs a timetable: left out, with why
    assert fr["left_out"] and all("«" in line for line in fr["left_out"])
    # deterministic: the same set gives the same figures
    again = releases.compute_figures(
        _frame(world),
        access=home_access(world.osm, _hood(world))[0],  # type: ignore[index]
        building_keys=_keys(world),
    )
    assert again.links == links
    # Figures read back carry them
    assert releases.Figures.from_json(first.figures).links == links
    # the walking minutes, as the report's constraints table (homes and streets only)
    walk = home_access(world.osm, _hood(world))[0]  # type: ignore[index]
    walking = first.figures["access"]
    assert walking["homes"] == len(walk) and 0 < walking["score_15min"] <= 1
    for lang in ("fr", "en"):
        rows = json.loads(json.dumps(constraint_rows(walk, lang)).replace("NaN", "null"))
        assert walking[lang] == rows


def _frame(world: World) -> pd.DataFrame:
    with store.session_scope(world.engine) as s:
        return ingest.respondents_frame(s, world.diag)


def _keys(world: World) -> pd.Series:
    with store.session_scope(world.engine) as s:
        return building_keys(s, world.diag)


def test_the_preview_reads_what_the_job_computed(world: World, first: store.Release) -> None:
    kept = list(world.osm.glob("*-links-*.json"))
    assert len(kept) == 1
    with store.session_scope(world.engine) as s:
        links, other = releases.preview_extras(s, world.diag, osm_dir=world.osm)
    assert links == first.figures["links"]
    assert isinstance(other, dict)


def test_without_access_tables_the_links_say_so(world: World, tmp_path: Path) -> None:
    figures = releases.compute_figures(_frame(world), access=False)
    assert figures.links == {"status": "no_access"}
    assert releases.compute_figures(_frame(world)).links == {}


def test_the_other_surveys_are_released_and_a_small_difference_withheld(
    world: World, first: store.Release
) -> None:
    """NosGestesClimat results of 100 of the SU respondents, then of 5 more: through the store."""
    from qet_geo.surveys.synthetic_others import synthetic_ngc

    ngc = synthetic_ngc(synthetic_su(150, seed=3), seed=1)
    assert first.figures.get("other_surveys")
    assert not any(":" in i for i in first.respondent_ids)  # no other survey answered yet
    for rows in (ngc.iloc[:100], ngc.iloc[100:105]):
        data = rows.to_csv(index=False).encode()
        ingest.ingest_survey(world.engine, world.diag, data, kind="ngc")
        made = create_release(world.engine, world.diag, osm_dir=world.osm)
        su = sorted(i for i in made.respondent_ids if ":" not in i)
        assert su == sorted(first.respondent_ids)  # the same SU set: a difference of 0
        part = made.figures["other_surveys"]["ngc"]
        kept = [i for i in made.respondent_ids if i.startswith("ngc:")]
        if len(rows) == 100:
            assert part["status"] == "published" and part["n_respondents"] == 100
            assert len(kept) == 100
        else:  # 5 more than the release before: withheld, its respondents not stored
            assert part == {
                "status": "withheld",
                "reason": "release_difference",
                "synthetic": True,
            }
            assert kept == []
        assert made.figures["links"] == first.figures["links"]
        assert made.figures["other_surveys"]["mdv"]["status"] == "no_data"


def test_rule_5_holds_per_part(world: World, first: store.Release) -> None:
    """The SU set refuses the release; an other survey's part is withheld, the rest published."""
    # SU: the same set again is allowed (a difference of 0), a few more answers are refused
    second = create_release(world.engine, world.diag, osm_dir=world.osm)
    assert second.figures["links"] == first.figures["links"]
    assert sorted(second.respondent_ids) == sorted(first.respondent_ids)
    more = synthetic_su(5, seed=9).decode().replace("SYN-", "SYN-X").encode()
    ingest.ingest_su(world.engine, world.diag, more)
    with pytest.raises(DisclosureError):
        create_release(world.engine, world.diag, osm_dir=world.osm)
    # the other surveys' parts, each against the same part of the earlier releases
    earlier = [set(first.respondent_ids) | {f"mdv:m{i}" for i in range(20)}]
    figures = {"mdv": {"status": "published", "synthetic": True}, "ngc": {"status": "published"}}
    ids = {"mdv": [f"m{i}" for i in range(25)], "ngc": [f"n{i}" for i in range(30)]}
    kept, keys = releases._withhold_different_parts(figures, ids, earlier)
    assert kept["mdv"] == {"status": "withheld", "reason": "release_difference", "synthetic": True}
    assert kept["ngc"] == {"status": "published"}
    assert keys == {f"ngc:n{i}" for i in range(30)}
    # 11 more MdV answers: published again
    ids["mdv"] = [f"m{i}" for i in range(31)]
    kept, keys = releases._withhold_different_parts(figures, ids, earlier)
    assert kept["mdv"]["status"] == "published" and "mdv:m30" in keys
    # the SU check ignores the other parts' keys
    releases._refuse_small_difference(set(first.respondent_ids), earlier)


def test_one_fit_gives_both_languages(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The links of a release are fitted once (the bootstrap), then labelled in each language."""
    import qet_geo.analysis.links as links_module

    calls = {"models": 0, "margins": 0}
    models, margins = links_module.constraint_models, links_module.margins_of_manoeuvre

    def counted_models(*args: Any, **kwargs: Any) -> Any:
        calls["models"] += 1
        return models(*args, **kwargs)

    def counted_margins(*args: Any, **kwargs: Any) -> Any:
        calls["margins"] += 1
        return margins(*args, **kwargs)

    monkeypatch.setattr(links_module, "constraint_models", counted_models)
    monkeypatch.setattr(links_module, "margins_of_manoeuvre", counted_margins)
    with store.session_scope(world.engine) as s:
        chosen = release_set(ingest.respondents_frame(s, world.diag))
        answers = link_answers(chosen, building_keys(s, world.diag))
    walk = home_access(world.osm, _hood(world))[0]  # type: ignore[index]
    figures = releases.link_figures(answers, walk)
    assert calls == {"models": 1, "margins": 1}
    assert figures["status"] == "ok" and figures["scale"] == FOOTPRINT_SCALE
    for lang in ("fr", "en"):
        assert figures[lang] == _expected(world, lang)


def test_every_footprint_of_a_release_is_on_one_scale(world: World, first: store.Release) -> None:
    """Stored footprints, the release's means and the vote themes all use the NGC scale."""
    frame = _frame(world)
    levels = frame[list(USAGES)].astype("Int8")
    ngc = su_footprints(levels, scale="ngc")
    near = su_footprints(levels, scale="near")
    assert FOOTPRINT_SCALE == "ngc"
    assert frame["total_kgco2e"].to_numpy() == pytest.approx(ngc["total_kgco2e"].to_numpy())
    assert not np.allclose(frame["total_kgco2e"].to_numpy(), near["total_kgco2e"].to_numpy())
    assert first.figures["scale"] == first.summary["scale"] == FOOTPRINT_SCALE
    with store.session_scope(world.engine) as s:
        keyed = ingest.respondents_frame(s, world.diag, keys=True)
    released = keyed.index[keyed["key"].isin(first.respondent_ids)]
    assert len(released) == first.n_respondents
    assert first.figures["footprints"]["total"] == pytest.approx(
        ngc.loc[released, "total_kgco2e"].mean(), abs=1e-3
    )
    # the vote themes' footprints are the release's means: same respondents, same scale
    assert first.figures["links"]["scale"] == FOOTPRINT_SCALE
    for lang in ("fr", "en"):
        votes = first.figures["links"][lang]["votes"]
        assert {v["usage"] for v in votes} == set(USAGES)
        for vote in votes:
            assert vote["footprint"] == pytest.approx(
                first.figures["footprints"][vote["usage"]], abs=1e-3
            )
