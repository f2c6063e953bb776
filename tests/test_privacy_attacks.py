"""Disclosure control across time and outputs, in the library (issue 12, item 2).

The API replays the same attacks on both backends (``tests/api/test_api_releases.py``); these
pin the library pieces they rest on: pooled geometry, the release set, the differencing check
between releases, the own profiles, before/after's dominance rule and messages without counts.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import shapely

from qet_geo.analysis.footprint import su_footprints
from qet_geo.analysis.national import before_after, before_after_moments
from qet_geo.privacy import GRID_LEVELS_M, MIN_RESPONDENTS, DisclosureError, safe_aggregate
from qet_geo.store.releases import compute_figures, release_set, respondent_key
from qet_geo.surveys.schema import USAGES

SMALL_COUNT = re.compile(r"(?<![\w.,])(10|[1-9])(?![\w.,])")
#: South-west corner of an 800 m INSEE square (EPSG:3035).
N0, E0 = 2827200, 3324000


def _cell(north: float, east: float) -> str:
    return f"CRS3035RES200mN{int(north)}E{int(east)}"


def _respondents(layout: list[tuple[float, float, int]], *, seed: int = 0) -> pd.DataFrame:
    """Respondents in 200 m cells, with varied answers, footprints and reference profiles."""
    rng = np.random.default_rng(seed)
    rows = []
    for north, east, count in layout:
        for _ in range(count):
            rows.append(
                {
                    "cell_id": _cell(north, east),
                    **dict(zip(USAGES, rng.integers(1, 4, 6), strict=True)),
                }
            )
    frame = pd.DataFrame(rows)
    levels = frame[list(USAGES)].astype("Int8")
    frame = pd.concat([frame, su_footprints(levels)], axis=1)
    frame["profile"] = pd.array(rng.integers(0, 4, len(frame)), dtype="Int64")
    frame.index = pd.Index([f"p{i}" for i in range(len(frame))], name="pseudo_id")
    return frame


def _parts_holding_few(table, layout) -> list[tuple[str, int, float]]:
    """Parts of merged zones holding 1 to 10 respondents without covering their 400 m blocks."""
    grid = table.to_crs("EPSG:3035")
    block = GRID_LEVELS_M[0]
    found = []
    for zone_id, row in grid.iterrows():
        if not row["merged"]:
            continue
        for part in shapely.get_parts(row.geometry):
            inside = [
                (n, e, c)
                for n, e, c in layout
                if part.buffer(1.0).contains(shapely.Point(e + 100, n + 100))
            ]
            held = sum(c for _, _, c in inside)
            if not 0 < held < MIN_RESPONDENTS:
                continue
            for n, e, _ in inside:
                bn, be = (n // block) * block, (e // block) * block
                if (
                    not shapely.box(be, bn, be + block, bn + block)
                    .buffer(-2)
                    .within(part.buffer(2))
                ):
                    found.append((str(zone_id), held, part.area))
                    break
    return found


def test_a_pooled_zone_never_outlines_one_cell():
    # a 400 m block: three cells of 12 respondents (published) and one of 3; 9 more respondents
    # in small cells of another block of the same 800 m square. The pool (3 + 9) used to be
    # drawn as that one 200 m cell plus the other block: the cell of the 3 showed on the map.
    layout = [
        (N0, E0, 12),
        (N0, E0 + 200, 12),
        (N0 + 200, E0, 12),
        (N0 + 200, E0 + 200, 3),
        (N0 + 400, E0 + 400, 5),
        (N0 + 600, E0 + 600, 4),
    ]
    frame = _respondents(layout, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = safe_aggregate(frame, zone="cell_id", values=["total_kgco2e"], profile="profile")
    assert _parts_holding_few(table, layout) == []
    assert int(table["n_respondents"].sum()) == len(frame)  # nothing suppressed
    assert table["n_respondents"].min() >= MIN_RESPONDENTS
    # zones never overlap
    geoms = list(table.geometry)
    for i, a in enumerate(geoms):
        for b in geoms[i + 1 :]:
            assert shapely.intersection(a, b).area < 1.0


def test_a_pool_of_whole_blocks_is_left_as_it_was():
    # no published zone cuts the pool's blocks: nothing is merged into it
    layout = [(N0, E0, 4), (N0 + 200, E0 + 200, 4), (N0 + 400, E0 + 400, 5), (N0, E0 + 400, 20)]
    frame = _respondents(layout, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = safe_aggregate(frame, zone="cell_id", values=["total_kgco2e"], profile="profile")
    assert sorted(table["n_respondents"].tolist()) == [13, 20]
    assert _parts_holding_few(table, layout) == []


def test_every_figure_covers_the_same_respondents():
    layout = [(N0, E0, 20)]
    frame = _respondents(layout, seed=3)
    hidden = frame.iloc[[0]].copy()
    hidden.index = pd.Index(["unlocated"], name="pseudo_id")
    hidden["cell_id"] = None
    hidden["total_kgco2e"] = 50_000.0
    figures = compute_figures(pd.concat([frame, hidden]), own_profiles=False)
    assert figures.n_respondents == 20 == len(release_set(pd.concat([frame, hidden])))
    cells = [f["properties"] for f in figures.features]
    assert sum(c["n_respondents"] for c in cells) == 20
    assert figures.footprints["total"] == pytest.approx(frame["total_kgco2e"].mean(), abs=1e-3)


def test_cells_are_withheld_whole_rather_than_in_part():
    # one cell dominated by a single respondent cannot be merged anywhere: the cells are then
    # withheld whole, since cells covering part of the set would give the rest by subtraction
    layout = [(N0, E0, 15)]
    frame = _respondents(layout, seed=4)
    frame.loc[frame.index[0], "total_kgco2e"] = 1e7
    figures = compute_figures(frame, own_profiles=False)
    assert figures.features == []


def test_own_profiles_never_hold_everyone_nor_a_small_group():
    same = pd.DataFrame([[3, 1, 2, 3, 1, 2]] * 30, columns=list(USAGES)).astype("Int8")
    frame = pd.concat([same, su_footprints(same)], axis=1)
    frame["cell_id"] = _cell(N0, E0)
    frame["profile"] = pd.array([1] * 30, dtype="Int64")
    assert compute_figures(frame).own_profiles == []
    varied = _respondents([(N0, E0, 60)], seed=5)
    for p in compute_figures(varied).own_profiles:
        assert p["share"] < 1.0 and p["share"] * 60 >= MIN_RESPONDENTS - 1e-6


def test_a_changed_answer_changes_the_key():
    a = respondent_key("p1", "c", {"meat_frequency": 1}, {"meat_frequency_kgco2e": 200.0}, 890.0)
    b = respondent_key("p1", "c", {"meat_frequency": 3}, {"meat_frequency_kgco2e": 2000.0}, 2690.0)
    assert a != b and a == respondent_key(
        "p1", "c", {"meat_frequency": 1}, {"meat_frequency_kgco2e": 200.0}, 890.0
    )


def _campaign(levels: list[list[int]]) -> pd.DataFrame:
    frame = pd.DataFrame(levels, columns=list(USAGES)).astype("Int8")
    return su_footprints(frame)


def test_before_after_withholds_a_single_flyer():
    calm = [[1, 1, 1, 1, 1, 1]] * 14
    before = _campaign([*calm, [1, 1, 1, 1, 3, 1]])  # the only flight of the campaign
    rng = np.random.default_rng(6)
    after = _campaign([list(rng.integers(1, 4, 6)) for _ in range(15)])
    table = before_after(before, after)
    assert "air_travel_frequency_kgco2e" not in table.index
    assert "total_kgco2e" not in table.index  # it would give the withheld usage back
    assert {"air_travel_frequency_kgco2e", "total_kgco2e"} <= set(table.attrs["withheld"])
    # before the rule: the flyer's 2 t showed as 15 × the mean
    assert not any(np.isclose(table["mean_before"] * table["n_before"], 2000.0))


def test_before_after_from_release_moments_matches_the_answers():
    rng = np.random.default_rng(7)
    a = _campaign([list(rng.integers(1, 4, 6)) for _ in range(20)])
    b = _campaign([list(rng.integers(1, 4, 6)) for _ in range(25)])

    def moments(frame: pd.DataFrame) -> dict[str, list[float]]:
        return {
            c: [float(len(frame)), float(frame[c].mean()), float(frame[c].var(ddof=1))]
            for c in frame.columns
        }

    direct = before_after(a, b)
    stored = before_after_moments(moments(a), moments(b))
    pd.testing.assert_frame_equal(direct.sort_index(), stored.sort_index(), check_like=True)


def test_messages_give_no_small_count():
    rng = np.random.default_rng(8)
    big = _campaign([list(rng.integers(1, 4, 6)) for _ in range(15)])
    small = _campaign([list(rng.integers(1, 4, 6)) for _ in range(4)])
    with pytest.raises(DisclosureError) as err:
        before_after(big, small)
    assert not SMALL_COUNT.search(str(err.value))
    assert not SMALL_COUNT.search(err.value.message_fr)
