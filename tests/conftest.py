"""Shared fixtures: the real data in ../shared/data, read in place (never copied)."""

from __future__ import annotations

import gzip
import shutil
import warnings
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared(*parts: str) -> Path:
    """Return a path under ../shared/data, failing loudly when the data is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.fail(
            f"real test data missing: {path}. The shared/ folder must sit beside the checkout "
            "(../shared/data); tests never skip for want of it."
        )
    return path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return shared()


@pytest.fixture(scope="session")
def lorient_pbf() -> Path:
    return shared("osm", "lorient_centre.osm.pbf")


@pytest.fixture(scope="session")
def lorient_gz() -> Path:
    return shared("osm", "lorient_centre.osm.gz")


@pytest.fixture(scope="session")
def lorient_xml(tmp_path_factory: pytest.TempPathFactory, lorient_gz: Path) -> Path:
    """The Lorient extract as plain XML (osmnx's graph_from_xml cannot read .gz)."""
    out = tmp_path_factory.mktemp("osm") / "lorient_centre.osm"
    with gzip.open(lorient_gz, "rb") as src, out.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    return out


@pytest.fixture(scope="session")
def lorient(lorient_pbf: Path):
    from qet_geo.osm import read_osm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_osm(lorient_pbf)
