"""The one chain from an extract to layers, networks and access (qet_geo.pipeline)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest

from qet_geo.constraints.access import neighbourhood_access
from qet_geo.errors import ValidationError
from qet_geo.exhibition.diagnose import DiagnosticConfig, _route
from qet_geo.layers import build_layers
from qet_geo.network import graph
from qet_geo.pipeline import build_neighbourhood, measure_access


@pytest.fixture(scope="module")
def hood(lorient_pbf: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_neighbourhood(lorient_pbf, modes=("walk", "bike"))


def test_access_equals_the_per_mode_computation(hood) -> None:
    for mode in ("walk", "bike"):
        assert hood.networks[mode].mode == mode
        expected = neighbourhood_access(hood.layers, mode=mode)
        pd.testing.assert_frame_equal(hood.access[mode], expected)
    assert len(hood.access["walk"]) > 500


def test_one_walk_network_serves_access_and_the_visit_route(
    lorient_pbf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[str] = []
    real = graph._build_network

    def counting(*args, **kwargs):
        built.append(kwargs["mode"])
        return real(*args, **kwargs)

    monkeypatch.setattr(graph, "_build_network", counting)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        walk = build_neighbourhood(lorient_pbf, modes=("walk",))
        rows, _, files = _route(
            walk, tmp_path, DiagnosticConfig(osm=lorient_pbf, synthetic=100, route_stops=4), "fr"
        )
    assert built == ["walk"]
    assert len(rows) == 4 and files


def test_networks_without_access_and_layers_alone(hood) -> None:
    bare = measure_access(hood.layers, modes=("walk",), with_access=False)
    assert set(bare.networks) == {"walk"} and bare.access == {}
    assert measure_access(hood.layers, modes=()).networks == {}


@pytest.mark.parametrize("mode", ["walk", "bike"])
def test_a_table_of_one_mode_builds_only_its_own_street_graph(hood, lorient_pbf, mode) -> None:
    # what qet access does: the other mode's graph and layer are not built, the table is the same
    other = {"walk": "bike", "bike": "walk"}[mode]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = build_neighbourhood(lorient_pbf, modes=(mode,), street_modes=())
    assert set(one.layers.graphs) == {mode}
    names = {"walk": "streets", "bike": "bike_streets"}
    assert names[mode] in one.layers.layers and names[other] not in one.layers.layers
    pd.testing.assert_frame_equal(one.access[mode], hood.access[mode])
    # by default, the layers hold both modes' streets (qet layers, the web's jobs)
    assert set(hood.layers.graphs) == {"walk", "bike"}
    assert {"streets", "bike_streets"} <= set(hood.layers.layers)


def test_an_unknown_mode_is_a_clear_error(hood) -> None:
    with pytest.raises(ValidationError) as err:
        measure_access(hood.layers, modes=("car",))  # type: ignore[arg-type]
    assert "walk" in err.value.localized("fr") and "inconnu" in err.value.localized("fr")


def test_progress_names_the_steps(lorient_pbf: Path) -> None:
    steps: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layers = build_layers(lorient_pbf)
    measure_access(layers, modes=("walk",), progress=steps.append)
    assert steps == ["access"]
