"""Bounded work for any input (issue 12, item 5), on both backends: request bodies, validation
answers, uploaded OSM extracts (read in a worker process under object, time and memory limits)
and territories."""

from __future__ import annotations

import json
import math
import os
import threading
import time
from pathlib import Path

import osmium
import pytest
from fastapi.testclient import TestClient

import api.routers.layers
from api._workers import run_in_worker, store_extract_job
from api.models import ExtractOut, NeighbourhoodOut
from qet_geo.errors import InputFileError, QetGeoWarning
from qet_geo.inputs.osm import _varint, count_osm_objects, read_osm
from qet_geo.store import models as store
from tests.api._gate import gated_job
from tests.api.conftest import LORIENT_TERRITORY, build_world
from tests.conftest import shared

#: Size of the zero-delta extract of the attack, in bytes.
ATTACK_BYTES = 293_000


def _blobs(data: bytes) -> list[bytes]:
    """Split a PBF file into its framed blobs (length, BlobHeader, Blob)."""
    out, pos = [], 0
    while pos < len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        header = data[pos + 4 : pos + 4 + size]
        datasize, at = 0, 0
        while at < len(header):  # fields of BlobHeader: 1 type, 2 indexdata, 3 datasize
            key, at = _varint(header, at)
            if key & 7 == 0:
                value, at = _varint(header, at)
                if key >> 3 == 3:
                    datasize = value
            else:
                length, at = _varint(header, at)
                at += length
        end = pos + 4 + size + datasize
        out.append(data[pos:end])
        pos = end
    return out


def zero_delta_pbf(path: Path, size_bytes: int = ATTACK_BYTES) -> int:
    """Write a PBF of nodes that all have the same id and place (every delta is 0).

    pyosmium's writer packs 8 000 such nodes into a blob of a few hundred bytes; the blob is
    repeated (a PBF is a sequence of independent blobs) until the file reaches ``size_bytes``.
    Return the number of nodes written.
    """
    seed = path.with_suffix(".seed.pbf")
    writer = osmium.SimpleWriter(str(seed), overwrite=True)
    node = osmium.osm.mutable.Node(id=1, location=(-3.37, 47.75))
    for _ in range(8000):
        writer.add_node(node)
    writer.close()
    header, data = _blobs(seed.read_bytes())
    seed.unlink()
    copies = math.ceil((size_bytes - len(header)) / len(data))
    path.write_bytes(header + data * copies)
    return 8000 * copies


@pytest.fixture
def bounded(empty_database, tmp_path):
    """A fresh world whose extracts go to tmp_path/osm, and a neighbourhood over Lorient."""
    w = build_world(empty_database, osm_dir=tmp_path / "osm", max_osm_bytes=400_000)
    r = w.client.post(
        "/neighbourhoods",
        json={"name": "Lorient centre", "territory": LORIENT_TERRITORY},
        headers=w.headers("staff"),
    )
    assert r.status_code == 201, r.text
    hood = NeighbourhoodOut.model_validate(r.json()).id
    yield w, hood, tmp_path / "osm"
    w.client.app.state.engine.dispose()  # type: ignore[attr-defined]


def _put_extract(client: TestClient, w, hood: int, data: bytes):
    return client.put(
        f"/neighbourhoods/{hood}/osm-extract",
        content=data,
        headers={**w.headers("admin"), "Content-Type": "application/octet-stream"},
    )


# --------------------------------------------------------------------------------------------
# OSM extracts


def test_objects_are_counted_before_reading(tmp_path):
    """The count is the file's (PBF and XML agree on Lorient); a zero-delta file is refused."""
    pbf = count_osm_objects(shared("osm", "lorient_centre.osm.pbf"))
    assert pbf == count_osm_objects(shared("osm", "lorient_centre.osm.gz")) > 50_000
    attack = tmp_path / "zero.osm.pbf"
    n_nodes = zero_delta_pbf(attack)
    assert attack.stat().st_size <= ATTACK_BYTES + 1000 and n_nodes > 10_000_000
    assert count_osm_objects(attack, limit=None) == n_nodes
    with pytest.raises(InputFileError, match="more than 1,000,000 OSM objects") as err:
        read_osm(attack, max_objects=1_000_000)
    assert "objets OSM" in err.value.message_fr
    # the real extract is read under a limit it holds to
    with pytest.warns(QetGeoWarning, match="clipped"):
        data = read_osm(shared("osm", "lorient_centre.osm.pbf"), max_objects=pbf)
    assert len(data.buildings) > 1000
    with pytest.raises(InputFileError, match="more than"):
        read_osm(shared("osm", "lorient_centre.osm.pbf"), max_objects=pbf - 1)


def test_zero_delta_extract_is_refused_clearly(bounded):
    """293 KB of zero-delta nodes (tens of millions of objects) stalled every request for 27 s;
    now refused, in French, after counting, and nothing is stored."""
    w, hood, osm_dir = bounded
    attack = osm_dir.parent / "zero.osm.pbf"
    zero_delta_pbf(attack)
    r = _put_extract(w.client, w, hood, attack.read_bytes())
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "InputFileError"
    assert r.json()["detail"].startswith(
        "l'extrait contient plus de 5\u202f000\u202f000 objets OSM"
    )
    assert "découpez-le" in r.json()["detail"] and "upload" not in r.json()["detail"]
    assert w.client.get(f"/neighbourhoods/{hood}", headers=w.headers("admin")).json()[
        "osm_extract"
    ] in (None, "")
    assert list(osm_dir.iterdir()) == []  # the upload is removed


def _wait_for(path: Path) -> str:
    deadline = time.monotonic() + 120  # a guard against a hang, not a timing assertion
    while not path.exists() or not path.read_text():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)
    return path.read_text()


def test_requests_are_answered_while_an_extract_is_read(bounded, monkeypatch, tmp_path):
    """While an extract is read (held open by a gate in its worker), the service answers."""
    w, hood, _ = bounded
    gate = tmp_path / "gate"

    # the worker runs a module-level function: the gate's path travels as its first argument
    async def patched_run(func, *args, limits, **kwargs):
        assert func is store_extract_job
        return await run_in_worker(gated_job, str(gate), *args, limits=limits, **kwargs)

    monkeypatch.setattr(api.routers.layers, "run_in_worker", patched_run)
    lorient = shared("osm", "lorient_centre.osm.pbf").read_bytes()
    events: list[str] = []
    answers: dict[str, object] = {}
    with TestClient(w.client.app) as client:  # one event loop serves both requests

        def upload() -> None:
            answers["upload"] = _put_extract(client, w, hood, lorient)
            events.append("upload answered")

        thread = threading.Thread(target=upload)
        thread.start()
        worker_pid = int(_wait_for(Path(str(gate) + ".started")))
        got = client.get(f"/neighbourhoods/{hood}", headers=w.headers("admin"))
        events.append("get answered")
        assert got.status_code == 200
        gate.write_text("open")
        thread.join(timeout=300)
    assert events == ["get answered", "upload answered"]
    assert worker_pid != os.getpid()  # read in another process
    r = answers["upload"]
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    assert ExtractOut.model_validate(r.json()).coverage == 1.0  # type: ignore[attr-defined]


def test_an_extract_past_its_time_is_killed(bounded, monkeypatch, tmp_path):
    """A reading that never ends is killed at osm_timeout_s and refused in French."""
    w, hood, osm_dir = bounded
    gate = tmp_path / "never"

    async def patched_run(func, *args, limits, **kwargs):
        return await run_in_worker(gated_job, str(gate), *args, limits=limits, **kwargs)

    monkeypatch.setattr(api.routers.layers, "run_in_worker", patched_run)
    monkeypatch.setattr(w.client.app.state.settings, "osm_timeout_s", 1.0)
    r = _put_extract(w.client, w, hood, shared("osm", "lorient_centre.osm.pbf").read_bytes())
    assert r.status_code == 422, r.text
    assert "n'a pas pu être lu en 1 s" in r.json()["detail"]
    started = Path(str(gate) + ".started")
    if started.exists() and started.read_text():  # unless it was killed before it began
        with pytest.raises(ProcessLookupError):
            os.kill(int(started.read_text()), 0)  # killed and reaped
    assert list(osm_dir.iterdir()) == []


def test_an_extract_past_its_memory_is_refused(bounded, monkeypatch):
    """The worker cannot grow past osm_memory_bytes: the real reading fails and is refused."""
    w, hood, osm_dir = bounded
    monkeypatch.setattr(w.client.app.state.settings, "osm_memory_bytes", 300_000_000)
    r = _put_extract(w.client, w, hood, shared("osm", "lorient_centre.osm.pbf").read_bytes())
    assert r.status_code == 422, r.text
    assert "mémoire" in r.json()["detail"]
    assert list(osm_dir.iterdir()) == []
    # the same file with the default limit is accepted
    monkeypatch.undo()
    ok = _put_extract(w.client, w, hood, shared("osm", "lorient_centre.osm.pbf").read_bytes())
    assert ok.status_code == 200, ok.text


# --------------------------------------------------------------------------------------------
# request bodies


def test_json_bodies_are_limited(bounded):
    """An anonymous 300 MB ballot was read whole; any JSON body past max_body_bytes is refused
    (413, French) on its declared length or while it streams."""
    w, _, _ = bounded
    limit = w.client.app.state.settings.max_body_bytes
    ballot = b'{"code": "' + b"A" * (limit + 1) + b'", "choice": "x"}'
    r = w.client.post(
        "/votes/1/ballots", content=ballot, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413, r.text
    assert r.json()["code"] == "PayloadTooLargeError"
    assert f"dépasse {limit} octets" in r.json()["detail"]
    en = w.client.post(
        "/votes/1/ballots",
        content=ballot,
        headers={"Content-Type": "application/json", "Accept-Language": "en"},
    )
    assert en.status_code == 413 and "larger than" in en.json()["detail"]

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(limit // 10_000 + 2):
            yield b" " * 10_000

    chunked = w.client.post(
        "/votes/1/ballots", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert chunked.status_code == 413, chunked.text
    # within the limit, the route answers as before
    small = w.client.post("/votes/999999/ballots", json={"code": "A"})
    assert small.status_code != 413


def test_validation_answers_never_echo_the_input(bounded):
    """A 422 names the faulty fields, never their values."""
    w, hood, _ = bounded
    secret = "Marie Dupont 12 rue des Lilas " * 100
    r = w.client.post(
        "/neighbourhoods",
        json={"name": {"nested": secret}, "territory": {"type": "Point", "coordinates": [secret]}},
        headers=w.headers("staff"),
    )
    assert r.status_code == 422
    assert "Marie" not in r.text and "Lilas" not in r.text
    body = r.json()
    assert body["code"] == "RequestValidationError"
    assert all(set(e) == {"loc", "msg", "type"} for e in body["detail"])
    assert ["body", "name"] in [e["loc"] for e in body["detail"]]
    bad_json = w.client.put(
        f"/neighbourhoods/{hood}/territory",
        content=b'{"type": "Polygon", "coordinates": ' + secret.encode(),
        headers={**w.headers("admin"), "Content-Type": "application/json"},
    )
    assert bad_json.status_code == 422 and "Marie" not in bad_json.text


# --------------------------------------------------------------------------------------------
# territories


def _circle(n: int, radius_deg: float = 0.005) -> dict:
    ring = [
        [
            -3.37 + radius_deg * math.cos(2 * math.pi * i / n),
            47.75 + radius_deg * math.sin(2 * math.pi * i / n),
        ]
        for i in range(n)
    ]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def test_territories_are_limited_in_vertices_and_bytes(bounded):
    """A territory of 1.5 M vertices (62 MB) was accepted; the body is refused past its limit and
    the outline past max_territory_vertices, in French; a fine one is stored exactly."""
    w, hood, _ = bounded
    settings = w.client.app.state.settings
    url = f"/neighbourhoods/{hood}/territory"
    huge = json.dumps(_circle(200_000)).encode()  # 8.6 MB
    assert len(huge) > settings.max_territory_bytes
    r = w.client.put(
        url, content=huge, headers={**w.headers("admin"), "Content-Type": "application/json"}
    )
    assert r.status_code == 413 and "dépasse" in r.json()["detail"]
    many = _circle(settings.max_territory_vertices + 10)
    r = w.client.put(url, json=many, headers=w.headers("admin"))
    assert r.status_code == 422, r.text
    assert "sommets" in r.json()["detail"] and f"{settings.max_territory_vertices}" in r.json()[
        "detail"
    ].replace("\u202f", "")
    created = w.client.post(
        "/neighbourhoods", json={"name": "Trop fin", "territory": many}, headers=w.headers("staff")
    )
    assert created.status_code == 422 and "sommets" in created.json()["detail"]
    fine = _circle(5000)
    r = w.client.put(url, json=fine, headers=w.headers("admin"))
    assert r.status_code == 200, r.text
    with store.session_scope(w.client.app.state.engine) as s:  # type: ignore[attr-defined]
        stored = store.territory_geometry(s.get(store.Neighbourhood, hood))
    assert len(stored.exterior.coords) == 5001  # stored exactly, not simplified
    # the area rule holds too: a whole town (about 120 km²) is refused
    town = _circle(100, radius_deg=0.08)
    r = w.client.put(url, json=town, headers=w.headers("admin"))
    assert r.status_code == 422 and "km²" in r.json()["detail"]


def test_maps_draw_a_simplified_copy_of_territories():
    """A territory of many vertices is drawn simplified (5 m), and the stored one is untouched."""
    import geopandas as gpd
    import shapely

    from maps.national import DISPLAY_TOLERANCE_M, display_outlines, make_national_map

    def frame(n: int) -> gpd.GeoDataFrame:
        return gpd.GeoDataFrame(
            {"name": ["Quartier dense"]},
            geometry=[shapely.geometry.shape(_circle(n))],
            crs="EPSG:4326",
        )

    dense = frame(50_000)
    before = dense.geometry.iloc[0]
    shown = display_outlines(dense.geometry)
    assert dense.geometry.iloc[0].equals_exact(before, 0)  # the input is left as it is
    assert shapely.get_num_coordinates(shown.iloc[0]) < 500
    exact, drawn = dense.to_crs(2154).geometry.iloc[0], shown.to_crs(2154).iloc[0]
    assert exact.hausdorff_distance(drawn) <= DISPLAY_TOLERANCE_M + 0.01

    def html(gdf: gpd.GeoDataFrame) -> str:
        return make_national_map(gdf).get_root().render()

    # 50 000 vertices weigh about 2 MB of GeoJSON; drawn, they weigh what 500 do
    assert len(html(dense)) - len(html(frame(500))) < 30_000


def test_hostile_survey_uploads_are_refused_clearly(bounded, monkeypatch):
    """A 4.5 MB CSV cell was a 500 ("field larger than field limit"), a 20 MB cell zipped in a
    workbook was read whole: both are 422 with a French message, and nothing is stored."""
    from tests.api.factories import su_csv
    from tests.surveys.test_survey_bounds import _big_cell_workbook

    w, _, _ = bounded
    monkeypatch.setattr(w.client.app.state.settings, "max_upload_bytes", 6_000_000)
    url = f"/diagnostics/{w.diags['A']}/uploads"
    before = w.client.get(f"/diagnostics/{w.diags['A']}", headers=w.headers("admin"))
    cell = su_csv(20, seed=3, prefix="X").replace(b"X00000", b"X" * 4_500_000, 1)
    r = w.client.post(url, content=cell, headers={**w.headers("admin"), "Content-Type": "text/csv"})
    assert r.status_code == 422, r.text[:300]
    assert "cellule de plus de" in r.json()["detail"]
    bomb = _big_cell_workbook(20_000_000)
    r = w.client.post(
        url,
        content=bomb,
        headers={**w.headers("admin"), "Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 422, r.text[:300]
    assert "bombe zip" in r.json()["detail"]
    after = w.client.get(f"/diagnostics/{w.diags['A']}", headers=w.headers("admin"))
    assert after.status_code == 200
    assert after.json() == before.json()


def test_workers_wait_for_a_slot(tmp_path):
    """With one slot, a second reading waits (asynchronously) for the first to end."""
    import asyncio

    from api._workers import WorkerLimits, _slots
    from tests.api._gate import counted_job

    gate = tmp_path / "gate"
    limits = WorkerLimits(timeout_s=300, slots=1)

    async def scenario() -> list[int]:
        first = asyncio.create_task(
            run_in_worker(counted_job, str(tmp_path), str(gate), limits=limits)
        )
        while not list(tmp_path.glob("running-*")):  # the first worker runs
            await asyncio.sleep(0.01)
        second = asyncio.create_task(
            run_in_worker(counted_job, str(tmp_path), str(gate), limits=limits)
        )
        await asyncio.sleep(0)  # the second reaches its slot, taken: it waits
        assert _slots(1).locked() and not second.done()
        gate.write_text("open")
        return [await first, await second]

    assert asyncio.run(scenario()) == [1, 1]  # never two at once


def test_an_announced_300_mb_ballot_is_refused_unread(empty_database, tmp_path):
    """Through a real server: 300 MB announced, nothing sent, answered 413 at once (chunked
    bodies: test_json_bodies_are_limited)."""
    import http.client

    from tests.api.conftest import live_server

    w = build_world(empty_database, osm_dir=tmp_path / "osm")
    limit = w.client.app.state.settings.max_body_bytes
    with live_server(w.client.app) as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.putrequest("POST", "/votes/1/ballots")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(300_000_000))
        conn.endheaders()  # the body never comes: the answer cannot wait for it
        resp = conn.getresponse()
        assert resp.status == 413
        assert f"dépasse {limit} octets" in json.loads(resp.read())["detail"]
        conn.close()
    w.client.app.state.engine.dispose()  # type: ignore[attr-defined]
