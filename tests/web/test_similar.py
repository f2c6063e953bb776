"""Neighbourhoods like yours on a territory's public home (``/q/{slug}``).

The network of tests/web/test_network.py (published neighbourhoods where the shared extracts are,
labelled-synthetic releases with built constraints; one without a release, one on the old NEAR
scale, one unpublished). The section lists the neighbours that a brute-force nearest-neighbour
computation over the public ``GET /national`` rows finds, nearest first, with their published
project sheets and expected effects; an unpublished sheet or neighbourhood never shows.
"""

from __future__ import annotations

import html
import re

from api.models import NationalRow
from qet_geo.store import models as store
from tests.analysis.test_similar import _brute
from tests.web.test_impact import add_project
from tests.web.test_network import World, world

__all__ = ["world"]


def _section(html: str) -> str:
    return html.split('aria-labelledby="titre-semblables"', 1)[1].split("</section>", 1)[0]


def _expected(world: World, target: str, k: int = 3) -> list[str]:
    rows = [NationalRow.model_validate(x) for x in world.site.client().get("/national").json()]
    rows = [r for r in rows if r.compared and r.n_respondents >= 11]
    ids = [r.neighbourhood_id for r in rows]
    constraint_keys = sorted({k for r in rows for k in r.constraints})
    profile_keys = sorted({k for r in rows for k in r.profile_mix})
    constraints = {c: [r.constraints.get(c) for r in rows] for c in constraint_keys}
    profiles = {p: [r.profile_mix.get(p) for r in rows] for p in profile_keys}
    nearest = _brute(ids, constraints, profiles, world.ids[target], k)
    names = {r.neighbourhood_id: r.name for r in rows}
    return [names[i] for i in nearest]


def _names(section: str) -> list[str]:
    return re.findall(r"<h3>(?:<a href=\"[^\"]*\">)?(.*?)(?:</a>)?</h3>", section)


def test_the_neighbours_are_the_brute_force_nearest(world: World) -> None:
    client = world.site.client()
    for target in ("lorient-centre", "pont-de-veyle", "saudron"):
        section = _section(client.get(f"/q/{target}").text)
        expected = _expected(world, target)
        assert len(expected) == 3
        assert [html.unescape(n) for n in _names(section)] == expected
        assert "<script>alert" not in section


def test_the_neighbours_bring_their_sheets_and_expected_effects(world: World) -> None:
    nantes = world.ids["nantes-hypercentre"]
    add_project(world.site.engine, nantes, title="Rue aux écoles", usage="transportation_mode",
                status="retenu", published=True, effect={"value": 4200.0})  # fmt: skip
    add_project(world.site.engine, nantes, title="Brouillon secret", published=False)
    section = _section(world.site.client().get("/q/lorient-centre").text)
    assert "Nantes hypercentre" in _names(section)
    assert 'href="/q/nantes-hypercentre/projets/' in section
    assert "Rue aux écoles" in section and "4 200 kgCO2e par an" in section.replace("\u202f", " ")
    assert "Brouillon secret" not in section
    assert "Vieille échelle" not in section and "Quartier caché" not in section


def test_a_neighbourhood_without_release_waits(world: World) -> None:
    section = _section(world.site.client().get("/q/en-attente").text)
    assert "une fois son diagnostic publié" in section
    assert "<ol" not in section


def test_the_section_in_english(world: World) -> None:
    client = world.site.client()
    client.cookies.set("qet_lang", "en")
    section = _section(client.get("/q/lorient-centre").text)
    assert "Neighbourhoods like yours" in section
    assert "Des quartiers comme" not in section
    with store.session_scope(world.site.engine) as s:
        assert s.get(store.Neighbourhood, world.ids["cache"]).published is False  # type: ignore[union-attr]


def test_the_api_gives_the_same_neighbours(world: World) -> None:
    """GET /neighbourhoods/{id}/similar: the brute-force nearest, nearest first, for the
    public; 404 for a neighbourhood without a comparable release."""
    client = world.site.client()
    answer = client.get(f"/neighbourhoods/{world.ids['pont-de-veyle']}/similar", params={"k": 2})
    assert answer.status_code == 200, answer.text
    rows = answer.json()
    assert [r["name"] for r in rows] == _expected(world, "pont-de-veyle", k=2)
    assert rows[0]["distance"] <= rows[1]["distance"] and all(r["synthetic"] for r in rows)
    missing = client.get(f"/neighbourhoods/{world.ids['en-attente']}/similar")
    assert missing.status_code == 404
    assert client.get(f"/neighbourhoods/{world.ids['cache']}/similar").status_code == 404
    assert client.get(f"/neighbourhoods/{world.ids['saudron']}/similar?k=0").status_code == 422
