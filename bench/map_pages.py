"""Benchmark the map pages of large areas: size of each page and time to open it in chromium.

Issue 18's target: no map page over 5 MB, each opening in headless chromium in under 3 s, for
areas of 50 000 and 200 000 homes (the exhibition's maps of ``qet diagnose`` checked the same way).

The pages are either read from a folder (``--folder``: every ``*.html`` in it, e.g. a
diagnostic's ``maps/``), or built here: the real Lorient centre extract (layers and walking
access, as ``qet diagnose`` computes them) is repeated k×k side by side (``--k 8`` is about 67 000
homes, ``--k 16`` about 267 000; every building, street and home value is real, only the area
grows), and the exhibition's four maps are written by the diagnostic's own code
(:func:`qet_geo.exhibition.diagnose._maps`: three built constraints and the profiles of 2 000
labelled-synthetic answers on the tiled homes). When ``bench/_tiled.py`` is committed, ``--tiled``
builds the layers and access from the real tiled extract instead (slower: the access of 200 000
homes takes minutes).

Each page is opened in Debian's chromium through Playwright for Python, launched with the flags of
the browser tests (``tests/web/browser_kit.CHROMIUM_ARGS``: every host unresolvable), in a fresh
context; it prints the time to the ``load`` event and the time until Leaflet has drawn (the map's
container holds its layers' paths, canvases or markers and the page raised no error), the best of
``--repeat`` runs, and each figure against its target. Page sizes against the number of homes are
printed too, for the threshold of :data:`maps._cells.AGGREGATE_ABOVE_HOMES`.

Measured on this 2-core machine shared with other work (best of 2 opens; "drawn" is the larger):

================================  =======  =========  =====================
area                              homes    page MB    drawn, s
================================  =======  =========  =====================
Lorient centre (k=1)              1 042    0.93       0.6   (home by home)
replicated k=2, home by home      4 168    3.2        1.8
replicated k=3, home by home      9 378    6.9        3.1   (both targets missed)
replicated k=8, cells             66 688   0.71       0.75
replicated k=16, cells            266 752  2.3        1.0
real tiled extract k=8, cells     81 600   0.87       0.66
================================  =======  =========  =====================

(``--aggregate-above 10000000`` draws every page home by home, for the first rows.) Before
issue 18, the diagnostic's pages of 200 000 homes weighed 137 MB.

Run from the repository root::

    .venv/bin/python bench/map_pages.py --k 1 2 4 8 16       # ~ a few minutes
    .venv/bin/python bench/map_pages.py --folder diagnostic/maps
"""

from __future__ import annotations

import argparse
import pickle
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.web.browser_kit import CHROMIUM_ARGS  # noqa: E402 (the flags of the browser tests)

SHARED_OSM = REPO.parent / "shared" / "data" / "osm"
LORIENT = SHARED_OSM / "lorient_centre.osm.pbf"
TERRITORY = REPO / "data" / "osm" / "lorient_centre.geojson"
MAX_BYTES = 5_000_000
MAX_OPEN_S = 3.0
GAP_M = 100.0

#: Resolves when the page's maps have drawn: every Leaflet container holds a drawn layer.
_DRAWN = """() => {
    const maps = document.querySelectorAll('.leaflet-container');
    if (!maps.length) { return false; }
    return Array.from(maps).every(m =>
        m.querySelector('path.leaflet-interactive, canvas, .leaflet-marker-icon') !== null);
}"""


# --------------------------------------------------------------------------------------------------
# building a large area from the real Lorient centre


def _lorient(cache: Path) -> tuple[dict[str, Any], Any]:
    """The Lorient centre's layers and walking access (cached between runs)."""
    path = cache / "lorient_layers_access.pkl"
    if path.exists():
        with path.open("rb") as f:
            frames, access = pickle.load(f)
        return frames, access
    from qet_geo.constraints.access import neighbourhood_access
    from qet_geo.inputs.territory import territory_from_file
    from qet_geo.layers import build_layers

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layers = build_layers(LORIENT, territory=territory_from_file(TERRITORY))
        access = neighbourhood_access(layers)
    frames = dict(layers.layers)
    with path.open("wb") as f:
        pickle.dump((frames, access), f)
    return frames, access


def tile_frames(frames: dict[str, Any], access: Any, k: int) -> tuple[dict[str, Any], Any]:
    """Repeat the layers and the per-home access k×k side by side (Lambert-93 shifts)."""
    import geopandas as gpd
    import shapely

    left, bottom, right, top = pd.concat(
        [frames[n].geometry for n in ("buildings", "streets", "territory") if n in frames]
    ).total_bounds
    dx, dy = right - left + GAP_M, top - bottom + GAP_M
    shifts = [(i * dx, j * dy) for i in range(k) for j in range(k)]

    def tiled(frame: Any) -> Any:
        copies = []
        for sx, sy in shifts:
            geoms = shapely.transform(
                frame.geometry.to_numpy(), lambda xy, s=np.array([sx, sy]): xy + s
            )
            copies.append(
                frame.set_geometry(gpd.GeoSeries(geoms, index=frame.index, crs=frame.crs))
            )
        return gpd.GeoDataFrame(pd.concat(copies, ignore_index=True), crs=frame.crs)

    out = {name: tiled(frame) for name, frame in frames.items() if name != "territory"}
    territory = tiled(frames["territory"])
    out["territory"] = gpd.GeoDataFrame(
        geometry=[shapely.union_all(territory.geometry.to_numpy())], crs=territory.crs
    )
    return out, tiled(access)


def _tiled_extract(k: int, cache: Path) -> tuple[dict[str, Any], Any]:
    """Layers and access of the real tiled extract (bench/_tiled.py)."""
    sys.path.insert(0, str(REPO / "bench"))
    from _tiled import tiled_extract  # type: ignore[import-not-found]

    from qet_geo.constraints.access import neighbourhood_access
    from qet_geo.layers import build_layers

    extract = tiled_extract(LORIENT, k, cache)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layers = build_layers(extract)
        access = neighbourhood_access(layers)
    return dict(layers.layers), access


def synthetic_respondents(access: Any, n: int, *, seed: int = 0) -> tuple[Any, Any]:
    """``n`` labelled-synthetic respondents on the homes: cell, profile and footprint."""
    from qet_geo.inputs.census import point_to_cell_id

    rng = np.random.default_rng(seed)
    rows = rng.choice(len(access), size=min(n, len(access)), replace=False)
    cells = point_to_cell_id(access.geometry.iloc[rows]).to_numpy()
    index = pd.Index([f"SYN-{i:05d}" for i in range(len(rows))], name="respondent")
    answers = pd.DataFrame(
        {"cell_id": cells, "profile": rng.integers(0, 4, size=len(rows))}, index=index
    )
    footprints = pd.DataFrame(
        {"total_kgco2e": rng.lognormal(np.log(8000), 0.35, size=len(rows))}, index=index
    )
    return answers, footprints


def build_pages(frames: dict[str, Any], access: Any, folder: Path) -> list[Path]:
    """Write the exhibition's four maps with the diagnostic's own code; return the pages."""
    from qet_geo.exhibition.diagnose import _maps

    answers, footprints = synthetic_respondents(access, 2000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        written = _maps(frames, access, answers, footprints, folder, "fr", synthetic=True)
    return [folder / rel for _, rel in written]


# --------------------------------------------------------------------------------------------------
# opening pages


def open_times(pages: list[Path], *, repeat: int) -> dict[Path, tuple[float, float, list[str]]]:
    """Open each page ``repeat`` times: best seconds to ``load`` and to drawn, and its errors."""
    from playwright.sync_api import sync_playwright

    from tests.web.browser_kit import chromium_path

    out: dict[Path, tuple[float, float, list[str]]] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium_path(), args=list(CHROMIUM_ARGS), chromium_sandbox=False
        )
        for page_path in pages:
            best_load, best_drawn = float("inf"), float("inf")
            errors: list[str] = []
            for _ in range(repeat):
                context = browser.new_context(viewport={"width": 1200, "height": 900})
                page = context.new_page()
                page.on("pageerror", lambda err, errors=errors: errors.append(str(err)))
                page.on(
                    "console",
                    lambda m, errors=errors: errors.append(m.text) if m.type == "error" else None,
                )
                start = time.perf_counter()
                page.goto(page_path.as_uri(), wait_until="load", timeout=120_000)
                loaded = time.perf_counter() - start
                page.wait_for_function(_DRAWN, timeout=120_000, polling="raf")
                drawn = time.perf_counter() - start
                best_load, best_drawn = min(best_load, loaded), min(best_drawn, drawn)
                context.close()
            out[page_path] = (best_load, best_drawn, sorted(set(errors)))
        browser.close()
    return out


def report(pages: list[Path], *, homes: int | None, repeat: int) -> bool:
    """Print each page's size and open times against the targets; return whether all are met."""
    times = open_times(pages, repeat=repeat)
    ok = True
    head = f"{'page':<34}{'MB':>8}{'load s':>9}{'drawn s':>9}  targets (<= 5 MB, < 3 s)"
    print(head if homes is None else f"{homes} homes\n{head}")
    for page in pages:
        size = page.stat().st_size
        load, drawn, errors = times[page]
        met = size <= MAX_BYTES and drawn < MAX_OPEN_S and not errors
        ok &= met
        print(
            f"{page.name:<34}{size / 1e6:>8.2f}{load:>9.2f}{drawn:>9.2f}  "
            f"{'met' if met else 'MISSED'}{'  errors: ' + '; '.join(errors) if errors else ''}"
        )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, help="open the pages of this folder instead")
    parser.add_argument("--k", type=int, nargs="+", default=[1, 8, 16], help="tilings k×k")
    parser.add_argument(
        "--tiled", action="store_true", help="real tiled extracts (bench/_tiled.py)"
    )
    parser.add_argument("--repeat", type=int, default=2, help="opens per page (best kept)")
    parser.add_argument(
        "--aggregate-above",
        type=int,
        help="override maps._cells.AGGREGATE_ABOVE_HOMES (to measure pages home by home)",
    )
    parser.add_argument(
        "--keep", type=Path, help="write the pages here (default: a temporary folder)"
    )
    args = parser.parse_args()
    if args.folder is not None:
        pages = sorted(args.folder.glob("*.html"))
        sys.exit(0 if report(pages, homes=None, repeat=args.repeat) else 1)

    import maps._base
    import maps._cells
    import maps.constraints

    if args.aggregate_above is not None:
        for module in (maps._base, maps._cells, maps.constraints):
            module.AGGREGATE_ABOVE_HOMES = args.aggregate_above  # type: ignore[attr-defined]
    from maps._cells import AGGREGATE_ABOVE_HOMES

    cache = Path(tempfile.gettempdir()) / "qet-bench-map-pages"
    cache.mkdir(exist_ok=True)
    ok = True
    print(f"aggregate above {AGGREGATE_ABOVE_HOMES} homes (maps._cells.AGGREGATE_ABOVE_HOMES)")
    with tempfile.TemporaryDirectory(prefix="qet-map-pages-") as tmp:
        root = args.keep or Path(tmp)
        for k in args.k:
            start = time.perf_counter()
            if args.tiled:
                frames, access = _tiled_extract(k, cache)
            else:
                frames, access = tile_frames(*_lorient(cache), k)
            folder = root / f"k{k}"
            pages = build_pages(frames, access, folder)
            built = time.perf_counter() - start
            print(f"\nk={k}: pages built in {built:.1f} s")
            ok &= report(pages, homes=len(access), repeat=args.repeat)
    print("\nevery target met" if ok else "\nsome target MISSED")


if __name__ == "__main__":
    main()
