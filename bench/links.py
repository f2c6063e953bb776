"""Benchmark the link report at city scale: ``qet_geo.analysis.links.link_report``.

The input is real-shaped: the walking access table of the shared Lorient extract (its 777 homes,
built by the pipeline: ``build_layers``, ``neighbourhood_access`` and ``building_indicators``)
replicated side by side (each copy shifted east by the extract's width, its keys suffixed) to
about 50 000 and 200 000 homes, and 600 labelled-synthetic answers
(:func:`qet_geo.surveys.synthetic.synthesize_answers`) spread over the copies. Every indicator
value is real; only the number of homes grows.

It times, in CPU and wall seconds, the whole ``link_report`` (200 bootstrap replicates, the
defaults) and its parts: the profile tables, the usage models (fits, folds and bootstrap), the
margins of manoeuvre (fits, bootstrap, predictions over the homes for every scenario) and prints
the target: links with their intervals under 5 s for 600 answers, and the peak memory the report
allocates (tracemalloc, in a separate run). ``--profile`` prints the top
of a cProfile of the report at the largest size, to see which work grows with homes.

    .venv/bin/python bench/links.py                    # 777, 50 k and 200 k homes
    .venv/bin/python bench/links.py --sizes 50000 --profile
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
TERRITORY = ROOT / "data" / "osm" / "lorient_centre.geojson"
TARGET_S = 5.0
N_ANSWERS = 600


def load() -> tuple[Any, pd.DataFrame, pd.DataFrame]:
    """The Lorient layers, their access table (with building indicators) and 600 answers."""
    from qet_geo.analysis.homes import building_indicators
    from qet_geo.constraints.access import neighbourhood_access
    from qet_geo.inputs.territory import territory_from_file
    from qet_geo.layers import build_layers
    from qet_geo.surveys.synthetic import synthesize_answers

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layers = build_layers(
            SHARED / "osm" / "lorient_centre.osm.pbf", territory=territory_from_file(TERRITORY)
        )
        access = neighbourhood_access(layers, mode="walk")
    access = access.join(building_indicators(layers.layers["buildings"]))
    answers = synthesize_answers(layers, N_ANSWERS, seed=1, access=access)
    return layers, access, answers


def tiled(
    access: pd.DataFrame, answers: pd.DataFrame, n_homes: int, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``access`` copied side by side to about ``n_homes`` homes; answers spread over the copies."""
    k = max(1, round(n_homes / len(access)))
    if k == 1:
        return access, answers
    width = 0.0
    if hasattr(access, "geometry"):
        minx, _, maxx, _ = access.total_bounds
        width = float(maxx - minx) + 100.0
    parts = []
    for i in range(k):
        part = access.copy()
        part.index = part.index.astype(str) + ("" if i == 0 else f"#{i}")
        if width and hasattr(part, "geometry"):
            part = part.set_geometry(part.geometry.translate(xoff=i * width))
        parts.append(part)
    big = pd.concat(parts)
    big.attrs = dict(access.attrs)
    out = answers.copy()
    copy = np.random.default_rng(seed).integers(0, k, len(out))
    keys = out["building_key"].astype(str)
    out["building_key"] = [
        key if c == 0 else f"{key}#{c}" for key, c in zip(keys, copy, strict=True)
    ]
    out.attrs = dict(answers.attrs)
    return big, out


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """Run ``fn``: its result, CPU seconds and wall seconds."""
    c0, w0 = time.process_time(), time.perf_counter()
    result = fn()
    return result, time.process_time() - c0, time.perf_counter() - w0


def peak_mb(fn: Callable[[], Any]) -> float:
    """Peak memory traced while ``fn`` runs (Python and numpy allocations), MB."""
    import tracemalloc

    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def run(
    access: pd.DataFrame, answers: pd.DataFrame, profiles: Any
) -> dict[str, tuple[float, float]]:
    from qet_geo.analysis.constraint_profiles import profile_constraints
    from qet_geo.analysis.links import link_report
    from qet_geo.analysis.margins import margins_of_manoeuvre
    from qet_geo.analysis.models import constraint_models

    out: dict[str, tuple[float, float]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, c, w = timed(lambda: profile_constraints(answers, access, profiles))
        out["profiles"] = (c, w)
        _, c, w = timed(lambda: constraint_models(answers, access, n_bootstrap=200))
        out["models + bootstrap"] = (c, w)
        _, c, w = timed(lambda: margins_of_manoeuvre(answers, access, n_bootstrap=200))
        out["margins + scenarios"] = (c, w)
        _, c, w = timed(lambda: link_report(answers, access, profiles=profiles))
        out["link_report (all)"] = (c, w)
        # a separate run: tracing allocations slows the timed one
        out["peak MB (traced)"] = (
            peak_mb(lambda: link_report(answers, access, profiles=profiles)),
            0.0,
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[777, 50_000, 200_000])
    parser.add_argument("--profile", action="store_true", help="cProfile the largest size")
    args = parser.parse_args()

    from qet_geo.analysis.profiles import UsageProfiles

    _, access, answers = load()
    profiles = UsageProfiles().fit(answers)
    print(f"Lorient: {len(access)} homes, {len(answers)} synthetic answers, 200 bootstraps")
    print(f"{'homes':>8}  {'part':<22} {'CPU s':>8} {'wall s':>8}")
    totals: dict[int, float] = {}
    largest: tuple[pd.DataFrame, pd.DataFrame] | None = None
    for size in args.sizes:
        big, spread = tiled(access, answers, size)
        largest = (big, spread)
        for part, (c, w) in run(big, spread, profiles).items():
            if part.startswith("peak"):
                print(f"{len(big):>8}  {part:<22} {c:>8.0f}")
                continue
            print(f"{len(big):>8}  {part:<22} {c:>8.2f} {w:>8.2f}")
            if part.startswith("link_report"):
                totals[len(big)] = c
    print()
    for n, c in totals.items():
        verdict = "met" if c < TARGET_S else "NOT met"
        print(
            f"target: link_report < {TARGET_S:.0f} s CPU for {N_ANSWERS} answers at {n} homes: "
            f"{c:.2f} s, {verdict}"
        )
    if len(totals) >= 2:
        ns = np.log(np.array(list(totals)))
        cs = np.log(np.array(list(totals.values())))
        print(f"growth exponent of link_report CPU with homes: {np.polyfit(ns, cs, 1)[0]:.2f}")
    if args.profile and largest is not None:
        from qet_geo.analysis.links import link_report

        big, spread = largest
        prof = cProfile.Profile()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prof.enable()
            link_report(spread, big, profiles=profiles)
            prof.disable()
        stream = io.StringIO()
        pstats.Stats(prof, stream=stream).sort_stats("cumulative").print_stats(30)
        print(stream.getvalue())


if __name__ == "__main__":
    main()
