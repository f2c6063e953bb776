"""The other surveys' figures in the store (qet_geo.store.perceived) and their template.

The MdV/EdV answers are labelled synthetic (``SYN-`` ids, a ``synthetic`` column), made by
:func:`qet_geo.surveys.synthetic_others.synthetic_mdv` on the real buildings of the shared Lorient
extract, with the food desert tests/analysis/test_perceived.py plants (the food shops north of
:data:`DESERT_SOUTH_M` removed, so that homes far from any food shop exist); the per-home access
comes from :func:`qet_geo.constraints.access.neighbourhood_access` on those layers, as the
service's job computes it. The NGC results are a small labelled-synthetic export read by the
library's reader (:func:`qet_geo.analysis.footprint.read_ngc_results`).
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from qet_geo.analysis.footprint import read_ngc_results
from qet_geo.analysis.perceived import (
    CATEGORIES,
    CATEGORY_LABELS,
    DOMAINS,
    QUESTIONS,
    perceived_access,
    read_located_mdv,
)
from qet_geo.constraints.access import neighbourhood_access
from qet_geo.i18n import msg, translate
from qet_geo.inputs.territory import territory_from_file
from qet_geo.layers import NeighbourhoodLayers, build_layers
from qet_geo.privacy import MIN_RESPONDENTS
from qet_geo.store.perceived import (
    REASONS,
    _assemble,
    ngc_figures,
    perceived_figures,
    perceived_view,
)
from qet_geo.surveys.synthetic_others import synthetic_mdv
from tests.conftest import shared

TERRITORY = Path(__file__).resolve().parents[2] / "data" / "osm" / "lorient_centre.geojson"
DESERT_SOUTH_M = 6757500.0


# --------------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def desert() -> NeighbourhoodLayers:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the extract is cut at its border
        layers = build_layers(
            shared("osm", "lorient_centre.osm.gz"), territory=territory_from_file(TERRITORY)
        )
    amenities = layers.layers["amenities"]
    north = (amenities["category"] == "food_shop") & (amenities.geometry.y > DESERT_SOUTH_M)
    return replace(layers, layers={**layers.layers, "amenities": amenities[~north]})


@pytest.fixture(scope="module")
def access(desert: NeighbourhoodLayers) -> dict[str, pd.DataFrame]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few homes off the street network
        return {m: neighbourhood_access(desert, mode=m) for m in ("walk", "bike")}


@pytest.fixture(scope="module")
def mdv_csv(tmp_path_factory: pytest.TempPathFactory, access) -> Path:
    frame = synthetic_mdv(access["walk"]).drop(columns="plant")
    path = tmp_path_factory.mktemp("mdv") / "mdv_synthetic.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def answers(mdv_csv: Path, desert: NeighbourhoodLayers) -> pd.DataFrame:
    return read_located_mdv(mdv_csv, desert)


@pytest.fixture(scope="module")
def mdv(answers, access) -> tuple[dict[str, Any], list[str]]:
    return perceived_figures(answers, access["walk"], access["bike"])


def _ngc_csv(
    path: Path, n: int, *, seed: int = 0, flyer: bool = False, glutton: bool = False
) -> Path:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "respondent_id": [f"SYN-{i + 1:05d}" for i in range(n)],
            "alimentation": rng.uniform(1800, 2800, n).round(1),
            "transport": rng.uniform(1000, 3500, n).round(1),
            "logement": rng.uniform(1200, 2800, n).round(1),
            "divers": rng.uniform(800, 1500, n).round(1),
            "services_societaux": np.full(n, 1450.0),
            "transport . avion": np.where(np.arange(n) == 0, 3000.0, 0.0)
            if flyer
            else rng.uniform(0, 600, n).round(1),
        }
    )
    if glutton:  # one respondent makes most of the food footprint, not of the total
        frame.loc[0, "alimentation"] = 1_000_000.0
    frame["bilan"] = frame[
        ["alimentation", "transport", "logement", "divers", "services_societaux"]
    ].sum(axis=1)
    frame.to_csv(path, index=False)
    return path


def _ngc(tmp_path: Path, n: int, **kw: Any) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the synthetic column and missing sub-categories
        return read_ngc_results(_ngc_csv(tmp_path / f"ngc_{n}.csv", n, **kw))


def _counts(data: Any) -> list[tuple[str, Any]]:
    """Every respondent or answer count anywhere in the figures."""
    out: list[tuple[str, Any]] = []
    if isinstance(data, dict):
        for k, v in data.items():
            if k.startswith("n_") and not isinstance(v, dict | list):
                out.append((k, v))
            out += _counts(v)
    elif isinstance(data, list):
        for v in data:
            out += _counts(v)
    return out


def _render(view: dict[str, Any] | None, lang: str, **more: Any) -> str:
    from api.web._kit import env

    def _(template: str, /, **fields: Any) -> str:  # as api.web._kit.render gives it
        return msg(template, **fields).render(lang) if fields else translate(template, lang)

    return env.get_template("release_perceived.html").render(perceived=view, _=_, lang=lang, **more)


# --------------------------------------------------------------------------------------------------
# measured against perceived access


def test_the_figures_are_the_library_perceived_access(mdv, answers, access) -> None:
    figures, _ids = mdv
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        library = perceived_access(answers, access["walk"], bike_access=access["bike"]).to_dict()
    assert figures["status"] == "published" and figures["synthetic"] is True
    assert figures["n_answers"] == library["n_answers"] == len(answers)
    hood = {r["question"]: r for r in library["neighbourhood"]}
    questions = {q["question"]: q for q in figures["questions"]}
    assert set(questions) == set(QUESTIONS)
    published = [k for k, q in questions.items() if q["status"] == "published"]
    assert "food_time_band" in published and len(published) >= 10
    for key in published:
        q, row = questions[key], hood[key]
        assert q["n_respondents"] == row["n_respondents"] >= MIN_RESPONDENTS
        for c in CATEGORIES:
            assert q["shares"][c] == row[f"share_{c}"]
        assert q["walk_value_mean"] == row["walk_value_mean"]
        zones = [z for z in library["zones"] if z["question"] == key]
        assert [z["zone_id"] for z in q["zones"]] == [z["zone_id"] for z in zones]
        for mine, theirs in zip(q["zones"], zones, strict=True):
            assert mine["n_respondents"] == theirs["n_respondents"] >= MIN_RESPONDENTS
            assert mine["shares"] == {c: theirs[f"share_{c}"] for c in CATEGORIES}
            assert mine["geometry"] == theirs["geometry"]
            assert mine["size_m"] in (200, 400, 800, 1600, 3200)
    # no railway station within reach of any home of the extract: not measured, said so
    assert questions["easy_leaving_by_transit"]["status"] == "no_data"
    assert questions["easy_leaving_by_transit"]["reason"] == "not_measured"
    # JSON as a release stores it, with no NaN
    json.dumps(figures, allow_nan=False)


def test_the_planted_desert_shows_in_the_food_domain(mdv) -> None:
    figures, _ = mdv
    assert {k for keys in DOMAINS.values() for k in keys} == set(QUESTIONS)
    assert sum(len(keys) for keys in DOMAINS.values()) == len(QUESTIONS)
    domains = {d["domain"]: d for d in figures["domains"]}
    questions = {q["question"]: q for q in figures["questions"]}
    for name, d in domains.items():
        rows = [
            q for k, q in questions.items() if k in DOMAINS[name] and q["status"] == "published"
        ]
        assert d["questions"] == [q["question"] for q in rows]
        n = sum(q["n_respondents"] for q in rows)
        assert d["n_answers"] == n
        for c in ("offer_unknown_or_unused", "offer_missing"):
            expected = sum(q["shares"][c] * q["n_respondents"] for q in rows) / n
            assert math.isclose(d[c], expected, abs_tol=1e-4)
    # the food desert: "l'offre manque" weighs more in food than anywhere else
    food = domains["food"]
    assert food["offer_missing"] == max(d["offer_missing"] for d in domains.values())
    assert food["offer_missing"] > 0.05


def test_ids_are_release_keys_of_every_answer(mdv, answers, access) -> None:
    _, ids = mdv
    assert len(ids) == len(set(ids)) == len(answers)
    assert not set(ids) & set(answers.index.astype(str))  # keys, not the pseudonyms
    # the same answers give the same keys; one changed answer changes one key
    again = perceived_figures(answers, access["walk"], access["bike"])[1]
    assert again == ids
    changed = answers.copy()
    first = changed.index[0]
    changed.loc[first, "easy_walking"] = (
        "no" if changed.loc[first, "easy_walking"] != "no" else "yes"
    )
    moved = perceived_figures(changed, access["walk"], access["bike"])[1]
    assert len(set(ids) - set(moved)) == 1 and len(set(moved) - set(ids)) == 1


def test_fewer_than_11_answers_publish_nothing_and_say_why(answers, access) -> None:
    figures, ids = perceived_figures(answers.iloc[:10], access["walk"], access["bike"])
    assert (figures["status"], figures["reason"]) == ("withheld", "too_few_answers")
    assert ids == []
    assert "questions" not in figures and "domains" not in figures
    assert all(v is None for _, v in _counts(figures))


def test_no_count_under_11_anywhere(mdv) -> None:
    figures, _ = mdv
    counts = _counts(figures)
    assert counts and all(v is None or v >= MIN_RESPONDENTS for _, v in counts)


def test_a_uniform_question_is_withheld_with_its_reason(answers, access) -> None:
    uniform = answers.assign(satisfied_local_shops="no")
    figures, _ = perceived_figures(uniform, access["walk"], access["bike"])
    questions = {q["question"]: q for q in figures["questions"]}
    withheld = questions["satisfied_local_shops"]
    assert (withheld["status"], withheld["reason"]) == ("withheld", "withheld")
    assert "shares" not in withheld and "n_respondents" not in withheld
    services = next(d for d in figures["domains"] if d["domain"] == "services")
    assert services["questions"] == ["satisfied_public_services"]


def test_no_answers_and_no_extract(answers) -> None:
    assert perceived_figures(None, None)[0]["reason"] == "no_answers"
    assert perceived_figures(answers.iloc[0:0], None)[0]["reason"] == "no_answers"
    figures, ids = perceived_figures(answers, None)
    assert (figures["status"], figures["reason"], ids) == ("no_data", "no_extract", [])


# --------------------------------------------------------------------------------------------------
# NosGestesClimat


def test_ngc_means_through_the_chokepoint(tmp_path: Path) -> None:
    results = _ngc(tmp_path, 40)
    figures, ids = ngc_figures(results)
    assert figures["status"] == "published" and figures["n_respondents"] == 40
    assert figures["synthetic"] is False or figures["synthetic"] is True
    means = {f["key"]: f for f in figures["footprints"]}
    for key in ("total", "alimentation", "transport", "logement", "divers", "services_societaux"):
        assert means[key]["status"] == "published"
        assert means[key]["mean_kgco2e"] == round(float(results[key].mean()), 1)
    assert means["transport_avion"]["parent"] == "transport"
    assert "transport_voiture" not in means  # not in the export: nothing said
    assert len(ids) == 40 and not set(ids) & set(results.index)
    json.dumps(figures, allow_nan=False)


def test_ngc_one_flyer_withholds_the_flights_only(tmp_path: Path) -> None:
    figures, ids = ngc_figures(_ngc(tmp_path, 30, flyer=True))
    means = {f["key"]: f for f in figures["footprints"]}
    assert (means["transport_avion"]["status"], means["transport_avion"]["reason"]) == (
        "withheld",
        "one_dominates",
    )
    assert means["transport_avion"]["mean_kgco2e"] is None
    assert means["total"]["status"] == "published" and len(ids) == 30


def test_a_category_withheld_alone_is_not_given_back_by_the_total(tmp_path: Path) -> None:
    results = _ngc(tmp_path, 40, glutton=True)
    figures, ids = ngc_figures(results)
    means = {f["key"]: f for f in figures["footprints"]}
    assert (means["alimentation"]["status"], means["alimentation"]["reason"]) == (
        "withheld",
        "one_dominates",
    )
    # the total alone would pass the rules; published beside the other four categories it
    # would give the food footprint back by subtraction: withheld with it
    food = results["alimentation"]
    assert (
        food.iloc[0] > 0.85 * food.sum()
        and results["total"].iloc[0] < 0.85 * results["total"].sum()
    )
    for key in ("total", "transport", "logement", "divers", "services_societaux"):
        assert (means[key]["status"], means[key]["reason"]) == ("withheld", "secondary"), key
        assert means[key]["mean_kgco2e"] is None
    # a sub-category is a part beside an unpublished rest: still published
    assert means["transport_avion"]["status"] == "published"
    assert figures["status"] == "published" and len(ids) == 40
    html = _render(
        perceived_view(_assemble({"status": "no_data", "reason": "x"}, figures), "fr"), "fr"
    )
    assert "se déduirait sinon par soustraction" in html


def test_ngc_under_11_is_withheld(tmp_path: Path) -> None:
    figures, ids = ngc_figures(_ngc(tmp_path, 10))
    assert (figures["status"], figures["reason"], figures["n_respondents"], ids) == (
        "withheld",
        "too_few_answers",
        None,
        [],
    )
    assert "footprints" not in figures
    assert ngc_figures(None)[0]["reason"] == "no_answers"


# --------------------------------------------------------------------------------------------------
# through the store


def test_through_the_store(tmp_path: Path, mdv_csv: Path, mdv, desert, access) -> None:
    from qet_geo.store import models as store
    from qet_geo.store.ingest import ingest_survey
    from qet_geo.store.perceived import other_surveys_figures

    engine = store.make_engine(f"sqlite:///{tmp_path / 'qet.db'}")
    store.create_schema(engine)
    with store.session_scope(engine) as s:
        hood = store.add_neighbourhood(s, name="Lorient")
        diag = store.Diagnostic(neighbourhood_id=hood.id, year=0)
        s.add(diag)
        s.flush()
        diagnostic_id = diag.id
    with store.session_scope(engine) as s:
        empty = other_surveys_figures(s, diagnostic_id, walk=access["walk"], bike=access["bike"])
    assert empty.figures["mdv"]["reason"] == empty.figures["ngc"]["reason"] == "no_answers"
    assert empty.ids == {"mdv": [], "ngc": []}
    buildings = desert.layers["buildings"]
    ingest_survey(engine, diagnostic_id, mdv_csv.read_bytes(), kind="mdv", buildings=buildings)
    ngc_file = _ngc_csv(tmp_path / "ngc.csv", 25)
    ingest_survey(engine, diagnostic_id, ngc_file.read_bytes(), kind="ngc")
    with store.session_scope(engine) as s:
        out = other_surveys_figures(s, diagnostic_id, walk=access["walk"], bike=access["bike"])
        no_extract = other_surveys_figures(s, diagnostic_id, walk=None, bike=None)
    figures = json.loads(json.dumps(out.figures, allow_nan=False))  # as a release stores them
    assert figures["synthetic"] is True and figures["min_respondents"] == MIN_RESPONDENTS
    # the stored answers give the figures the file gives: same homes, same answers
    from_file, file_ids = mdv
    assert figures["mdv"]["questions"] == json.loads(json.dumps(from_file["questions"]))
    assert figures["mdv"]["domains"] == json.loads(json.dumps(from_file["domains"]))
    assert len(out.ids["mdv"]) == len(file_ids) and not set(out.ids["mdv"]) & set(file_ids)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct, _ = ngc_figures(read_ngc_results(ngc_file))
    assert figures["ngc"]["footprints"] == direct["footprints"]
    assert figures["ngc"]["n_respondents"] == 25 and len(out.ids["ngc"]) == 25
    assert (no_extract.figures["mdv"]["reason"], no_extract.ids["mdv"]) == ("no_extract", [])
    assert no_extract.figures["ngc"] == out.figures["ngc"]
    html = _render(perceived_view(figures, "en"), "en")
    assert "The offer is missing" in html and "NosGestesClimat footprint" in html


# --------------------------------------------------------------------------------------------------
# the view and the template


@pytest.fixture(scope="module")
def whole(mdv, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    ngc, _ = ngc_figures(_ngc(tmp_path_factory.mktemp("ngc"), 30, flyer=True))
    return _assemble(mdv[0], ngc)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_template_renders_in_both_languages(whole, lang: str) -> None:
    html = _render(perceived_view(whole, lang), lang)
    if lang == "fr":
        for text in (
            "Accès mesuré et accès perçu",
            "Empreinte NosGestesClimat",
            "L'offre manque",
            "Réponses synthétiques",
            "Alimentation",
        ):
            assert text.replace("'", "&#39;") in html, text
    else:
        for text in (
            "Measured and perceived access",
            "NosGestesClimat footprint",
            "The offer is missing",
            "Synthetic answers",
            "Food",
            "Getting about",
        ):
            assert text in html, text
        assert "L&#39;offre manque" not in html and "Empreinte totale" not in html
    assert html.count("<caption>") >= 4
    # under the h2 of the set of figures it follows, or at the level the page asks
    assert '<h3 id="titre-percu-p">' in html and "<h4>" in html and "<h2" not in html
    again = _render(perceived_view(whole, lang), lang, perceived_h=2, perceived_key="x")
    assert '<h2 id="titre-percu-x">' in again and "<h3>" in again
    assert '<th scope="col">' in html and '<th scope="row">' in html
    # each category explained in words; the withheld flights say why
    for c in CATEGORIES:
        assert CATEGORY_LABELS[c].render(lang).replace("'", "&#39;") in html
    assert REASONS["one_dominates"].render(lang).replace("'", "&#39;") in html
    assert REASONS["not_measured"].render(lang).replace("'", "&#39;") in html


def test_withheld_parts_are_explained_in_words(answers, access, tmp_path: Path) -> None:
    mdv, _ = perceived_figures(answers.iloc[:10], access["walk"], access["bike"])
    ngc, _ = ngc_figures(_ngc(tmp_path, 10))
    html = _render(perceived_view(_assemble(mdv, ngc), "fr"), "fr")
    assert "Rien n&#39;est publié pour l&#39;accès perçu." in html
    assert "Rien n&#39;est publié pour NosGestesClimat." in html
    assert "Moins de 11 réponses" in html
    assert "<table" not in html


def test_no_figures_render_one_sentence() -> None:
    assert perceived_view(None, "fr") is None and perceived_view({}, "en") is None
    html = _render(None, "fr")
    assert "Pas de réponses MdV/EdV ni NosGestesClimat" in html and "<table" not in html
    assert "No MdV/EdV or NosGestesClimat answers" in _render(None, "en")


def test_stored_text_is_escaped(whole) -> None:
    # figures come back from the store's JSON: a forged key is dropped, a forged label escaped
    forged = json.loads(json.dumps(whole))
    forged["mdv"]["questions"].append(
        {"question": "<script>alert(1)</script>", "status": "published", "indicators": []}
    )
    view = perceived_view(forged, "fr")
    assert view is not None
    view["mdv"]["domains"][0]["label"] = "<script>alert(1)</script>"
    html = _render(view, "fr")
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_part_the_release_withholds_says_why(whole) -> None:
    # what qet_geo.store.releases stores when a part differs by 1 to 10 from an earlier release
    forged = {**whole, "mdv": {"status": "withheld", "reason": "release_difference"}}
    html = _render(perceived_view(forged, "fr"), "fr")
    assert "publication précédente de 1 à 10 personnes" in html
    assert "Empreinte NosGestesClimat" in html and html.count("<table") == 1  # NGC's only
    odd = {**whole, "ngc": {"status": "withheld", "reason": "<b>new</b>"}}
    html = _render(perceived_view(odd, "en"), "en")
    assert "Not published under the privacy rules." in html and "<b>new" not in html


def test_zones_say_where_they_lie(whole) -> None:
    from qet_geo.store.perceived import _sides

    square = [(0, 0), (0, 1), (1, 1), (1, 0), (0, 0)]

    def at(x: float, y: float) -> dict[str, Any]:
        ring = [[x + a, y + b] for a, b in square]
        return {"geometry": {"type": "Polygon", "coordinates": [ring]}}

    zones = [at(0, 0), at(0, 10), at(10, 0), at(0, -10), at(-10, 0), at(7, 7)]
    assert _sides(zones) == ["centre", "n", "e", "s", "w", "ne"]
    assert _sides([at(0, 0)]) == [None] and _sides([{"geometry": None}, at(1, 1)])[0] is None
    view = perceived_view(whole, "en")
    assert view is not None
    food = next(q for q in view["mdv"]["questions"] if q.get("zones"))
    assert all(z["name"].startswith("Zone ") and "(in the " in z["name"] for z in food["zones"])


def test_neither_survey_uploaded_is_one_sentence() -> None:
    empty = _assemble(perceived_figures(None, None)[0], ngc_figures(None)[0])
    assert perceived_view(empty, "fr") is None
    only_ngc = _assemble(perceived_figures(None, None)[0], {"status": "withheld", "reason": "x"})
    view = perceived_view(only_ngc, "fr")
    assert view is not None and view["mdv"]["reason"] == REASONS["no_answers"].render("fr")


def test_answers_without_buildings_say_what_to_do(answers, access) -> None:
    # uploaded before the extract: placed by their cell only
    figures, ids = perceived_figures(answers.assign(building_key=None), access["walk"])
    assert (figures["status"], figures["reason"], ids) == ("withheld", "too_few_located", [])
    html = _render(perceived_view(_assemble(figures, ngc_figures(None)[0]), "fr"), "fr")
    assert "déposez-les à nouveau" in html


def test_the_main_gap_of_a_domain(mdv) -> None:
    from qet_geo.store.perceived import MAIN_GAP_MIN_SHARE

    for d in mdv[0]["domains"]:
        if d["status"] != "published":
            continue
        larger = max(d["offer_missing"], d["offer_unknown_or_unused"])
        if larger < MAIN_GAP_MIN_SHARE:
            assert d["main_gap"] is None
        else:
            assert d[d["main_gap"]] == larger
