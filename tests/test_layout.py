"""The library's layout: subpackages export their public names lazily, and nothing heavy loads early."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = sorted(
    p.name
    for p in (ROOT / "qet_geo").iterdir()
    if p.is_dir() and (p / "__init__.py").exists() and p.name != "cli"
)


@pytest.mark.parametrize("package", PACKAGES)
def test_each_public_name_is_exported_once_from_its_module(package: str) -> None:
    pkg = importlib.import_module(f"qet_geo.{package}")
    owner: dict[str, str] = {}
    for path in sorted((ROOT / "qet_geo" / package).glob("[!_]*.py")):
        module = importlib.import_module(f"qet_geo.{package}.{path.stem}")
        for name in getattr(module, "__all__", []):
            assert name not in owner, f"{package}.{name} in {owner.get(name)} and {path.stem}"
            owner[name] = path.stem
            assert getattr(pkg, name) is getattr(module, name), f"{package}.{name}"
    assert owner, f"qet_geo.{package} exports nothing"
    assert set(owner) <= set(dir(pkg))
    with pytest.raises(AttributeError, match="no attribute"):
        _ = pkg.not_a_name


def test_importing_a_subpackage_loads_no_heavy_library() -> None:
    code = (
        "import sys, qet_geo.inputs, qet_geo.network, qet_geo.analysis, qet_geo.store, "
        "qet_geo.surveys, qet_geo.visit, qet_geo.exhibition, qet_geo.constraints, qet_geo.cli.main\n"
        "heavy = {'geopandas', 'pandas', 'sklearn', 'folium', 'sqlalchemy', 'scipy', 'shapely'}\n"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_no_flat_module_left_where_a_folder_now_holds_it() -> None:
    flat = {p.stem for p in (ROOT / "qet_geo").glob("*.py")}
    folders = {p.name for p in (ROOT / "qet_geo").iterdir() if p.is_dir()}
    assert not flat & folders
    assert not [p for p in (ROOT / "qet_geo").glob("_cli_*.py")]
