"""The layers of a neighbourhood's extract are read once, kept beside it, and read back
(api/web/setup.py: extract_layers, keep_layers); a page waiting for the worker holds no store
connection."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import shapely.geometry

from api.web import setup
from qet_geo.store import models as store
from qet_geo.store.jobs import access_key, territory_from_geojson
from qet_geo.store.models import make_engine
from tests.conftest import shared
from tests.web.test_accounts import Site, add_pilot, cli_admin, csrf_of, make_site, signed_in_client

ROOT = Path(__file__).resolve().parents[2]
OUTLINE = ROOT / "data" / "osm" / "lorient_centre.geojson"
EXTRACT = "lorient_centre.osm.pbf"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """Lorient centre with its outline and the shared extract (copied into the OSM folder)."""
    s = make_site(tmp_path)
    osm = tmp_path / "osm"
    osm.mkdir(exist_ok=True)
    shutil.copyfile(shared("osm") / EXTRACT, osm / EXTRACT)
    cli_admin(s.url, "admin@b.example")
    territory = territory_from_geojson(json.loads(OUTLINE.read_text()))
    with store.session_scope(s.engine) as session:
        hood = store.add_neighbourhood(session, name="Lorient centre")
        hood.territory_wkt = territory.wkt
        hood.osm_extract = EXTRACT
        s.hood = hood.id  # type: ignore[attr-defined]
    add_pilot(s, "pilote@b.example", s.hood)  # type: ignore[attr-defined]
    s.osm = osm  # type: ignore[attr-defined]
    yield s
    s.engine.dispose()


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The worker runs of :func:`api.web.setup.keep_layers` (the real worker, counted)."""
    started: list[Any] = []
    real = setup.run_in_worker

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        if func is setup.keep_layers:
            started.append(kwargs.get("map_files"))
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(setup, "run_in_worker", counted)
    monkeypatch.setattr(setup, "_READ", type(setup._READ)())  # this test's own reads
    return started


def _count(html: str, name: str) -> int:
    found = re.search(rf'data-count="{name}">([^<]*)<', html)
    assert found, html
    return int(found.group(1))


def _kept(site: Site, kind: str) -> list[Path]:
    return sorted(site.osm.glob(f"*.access-*-layers-*-{kind}"))  # type: ignore[attr-defined]


def test_the_layers_are_read_once_then_kept_for_every_page_and_visitor(
    site: Site, runs: list[Any]
) -> None:
    hood = site.hood  # type: ignore[attr-defined]
    pilot = signed_in_client(site, "pilote@b.example")
    first = pilot.get(f"/espace/quartiers/{hood}/couches")
    assert first.status_code == 200 and len(runs) == 1
    homes = _count(first.text, "homes")
    assert homes > 1000
    # kept beside the extract, under the analysis's key of this extract and outline
    with store.session_scope(site.engine) as session:
        stored = session.get(store.Neighbourhood, hood)
        assert stored is not None
        key = access_key(EXTRACT, store.territory_geometry(stored))
    [summary] = _kept(site, "summary.json")
    assert summary.name.startswith(f"{EXTRACT}.access-{key}-layers-")
    assert len(_kept(site, "streets.json")) == 1
    assert not list(site.osm.glob(".layers-*"))  # type: ignore[attr-defined]  # no temporary left

    # the same page again, another visitor, the English page, the outline's streets: no worker
    again = pilot.get(f"/espace/quartiers/{hood}/couches")
    admin = signed_in_client(site, "admin@b.example")
    other = admin.get(f"/espace/quartiers/{hood}/couches")
    assert again.text == first.text and _count(other.text, "homes") == homes
    admin.cookies.set("qet_lang", "en")
    english = admin.get(f"/espace/quartiers/{hood}/couches")
    assert "reach the edge of the extract" in english.text
    streets = pilot.get(f"/espace/quartiers/{hood}/contour/rues.json")
    assert streets.status_code == 200 and streets.headers["cache-control"] == "no-store"
    body = streets.json()
    assert body["streets"]["type"] == "FeatureCollection" and len(body["streets"]["features"]) > 100
    assert body["territory"]["type"] == "Polygon"
    carte = pilot.get(f"/espace/quartiers/{hood}/enquete/carte.json")
    assert carte.json()["streets"] == body["streets"]
    assert len(runs) == 1

    # another server process (nothing read yet): the files, not the extract
    setup._READ.clear()
    assert _count(pilot.get(f"/espace/quartiers/{hood}/couches").text, "homes") == homes
    assert len(runs) == 1

    # the map: once per language (its title is in it), then kept too
    carte_fr = pilot.get(f"/cartes/quartiers/{hood}/couches")
    assert carte_fr.status_code == 200 and "couches du quartier" in carte_fr.text
    assert pilot.get(f"/cartes/quartiers/{hood}/couches").text == carte_fr.text
    assert len(runs) == 2 and list(runs[1]) == ["fr"]
    carte_en = admin.get(f"/cartes/quartiers/{hood}/couches")
    assert "neighbourhood\u2019s layers" in carte_en.text
    assert len(runs) == 3 and list(runs[2]) == ["en"]
    assert admin.get(f"/cartes/quartiers/{hood}/couches").text == carte_en.text
    assert len(runs) == 3


def test_a_new_outline_or_extract_is_read_again(site: Site, runs: list[Any]) -> None:
    hood = site.hood  # type: ignore[attr-defined]
    pilot = signed_in_client(site, "pilote@b.example")
    homes = _count(pilot.get(f"/espace/quartiers/{hood}/couches").text, "homes")
    assert len(runs) == 1

    # a smaller outline, sent through the form
    drawn = json.loads(OUTLINE.read_text())
    shape = shapely.geometry.shape(
        drawn["features"][0]["geometry"] if "features" in drawn else drawn
    )
    smaller = json.dumps(shapely.geometry.mapping(shape.buffer(-0.001)))
    csrf = csrf_of(pilot.get(f"/espace/quartiers/{hood}/contour").text)
    sent = pilot.post(f"/espace/quartiers/{hood}/contour", data={"csrf": csrf, "geojson": smaller})
    assert sent.status_code == 303, sent.text
    fewer = _count(pilot.get(f"/espace/quartiers/{hood}/couches").text, "homes")
    assert len(runs) == 2 and 0 < fewer < homes
    pilot.get(f"/espace/quartiers/{hood}/couches")
    assert len(runs) == 2

    # the extract rewritten under the same name (a shared extract updated in place)
    before = set(_kept(site, "summary.json"))
    assert len(before) == 2  # the first outline's, the smaller one's
    extract = site.osm / EXTRACT  # type: ignore[attr-defined]
    shutil.copyfile(shared("osm") / EXTRACT, extract)
    os.utime(extract, ns=(time.time_ns(), time.time_ns() + 1_000_000_000))
    assert _count(pilot.get(f"/espace/quartiers/{hood}/couches").text, "homes") == fewer
    assert len(runs) == 3
    after = set(_kept(site, "summary.json"))
    assert len(after) == 2 and len(after - before) == 1  # the stale one of this outline: gone

    # another extract
    shutil.copyfile(shared("osm") / "lorient_centre.osm.gz", site.osm / "autre.osm.gz")  # type: ignore[attr-defined]
    with store.session_scope(site.engine) as session:
        stored = session.get(store.Neighbourhood, hood)
        assert stored is not None
        stored.osm_extract = "autre.osm.gz"
    page = pilot.get(f"/espace/quartiers/{hood}/couches")
    assert page.status_code == 200 and _count(page.text, "homes") == fewer
    assert len(runs) == 4
    assert any(p.name.startswith("autre.osm.gz.access-") for p in _kept(site, "summary.json"))


@pytest.mark.parametrize(
    "spoilt",
    [b"{not json", b"", b'{"version": 1, "buildings": "many"}', b"[1, 2]", b"\xff\xfe\x00"],
)
def test_a_spoilt_kept_file_is_computed_again_never_a_500(
    site: Site, runs: list[Any], spoilt: bytes
) -> None:
    hood = site.hood  # type: ignore[attr-defined]
    pilot = signed_in_client(site, "pilote@b.example")
    first = pilot.get(f"/espace/quartiers/{hood}/couches")
    streets = pilot.get(f"/espace/quartiers/{hood}/contour/rues.json").json()
    carte = pilot.get(f"/cartes/quartiers/{hood}/couches").text
    assert len(runs) == 2  # the summary and streets, then the map
    for kind in ("summary.json", "streets.json", "map-fr-*.html"):
        [kept] = _kept(site, kind)
        kept.write_bytes(spoilt)
    setup._READ.clear()
    again = pilot.get(f"/espace/quartiers/{hood}/couches")
    assert again.status_code == 200 and again.text == first.text
    assert len(runs) == 3
    assert pilot.get(f"/espace/quartiers/{hood}/contour/rues.json").json() == streets
    assert pilot.get(f"/cartes/quartiers/{hood}/couches").text == carte
    assert len(runs) == 4
    json.loads(_kept(site, "summary.json")[0].read_text())  # whole again


def _async_client(site: Site, signed: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=site.app),  # type: ignore[arg-type]
        base_url="http://testserver",
        cookies=dict(signed.cookies.items()),
        timeout=120,
    )


def test_a_page_waiting_for_the_worker_holds_no_store_connection(
    site: Site, runs: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # one connection in all: a page holding it while it waits would stop every other page
    site.app.state.engine = make_engine(  # type: ignore[attr-defined]
        site.url, pool_size=1, max_overflow=0, pool_timeout=5
    )
    hood = site.hood  # type: ignore[attr-defined]
    pilot = signed_in_client(site, "pilote@b.example")
    waiting = threading.Event()
    go_on = threading.Event()
    counted = setup.run_in_worker

    async def held(func: Any, *args: Any, **kwargs: Any) -> Any:
        waiting.set()
        deadline = time.monotonic() + 60
        while not go_on.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return await counted(func, *args, **kwargs)

    monkeypatch.setattr(setup, "run_in_worker", held)

    async def both() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        async with _async_client(site, pilot) as client:
            layers = asyncio.create_task(client.get(f"/espace/quartiers/{hood}/couches"))
            streets = asyncio.create_task(client.get(f"/espace/quartiers/{hood}/contour/rues.json"))
            while not waiting.is_set():
                await asyncio.sleep(0.01)
            # while the layers wait for their worker, other pages are served
            other = await client.get(f"/espace/quartiers/{hood}")
            go_on.set()
            return other, await layers, await streets

    other, layers, streets = asyncio.run(both())
    assert other.status_code == 200 and "Lorient centre" in other.text
    assert layers.status_code == 200 and _count(layers.text, "homes") > 1000
    assert streets.status_code == 200 and streets.json()["streets"]["type"] == "FeatureCollection"
    # the two first requests of the same extract and outline computed once
    assert len(runs) == 1
    site.app.state.engine.dispose()  # type: ignore[attr-defined]


def test_concurrent_first_requests_compute_once(
    site: Site, runs: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    hood = site.hood  # type: ignore[attr-defined]
    pilot = signed_in_client(site, "pilote@b.example")
    reads: list[int] = []
    read_all = setup._read_all

    def counted_reads(*args: Any, **kwargs: Any) -> Any:
        reads.append(1)
        return read_all(*args, **kwargs)

    monkeypatch.setattr(setup, "_read_all", counted_reads)
    counted = setup.run_in_worker

    async def held(func: Any, *args: Any, **kwargs: Any) -> Any:
        # the first request computes once all the others found nothing kept
        deadline = time.monotonic() + 60
        while len(reads) < 1 + 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return await counted(func, *args, **kwargs)

    monkeypatch.setattr(setup, "run_in_worker", held)

    async def three() -> list[httpx.Response]:
        async with _async_client(site, pilot) as client:
            return list(
                await asyncio.gather(
                    *(client.get(f"/espace/quartiers/{hood}/couches") for _ in range(3))
                )
            )

    pages = asyncio.run(three())
    assert [p.status_code for p in pages] == [200, 200, 200]
    assert len({_count(p.text, "homes") for p in pages}) == 1
    assert len(runs) == 1
