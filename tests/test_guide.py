"""The French user guide (docs/guide/) keeps up with the code.

It fails when `qet diagnose` writes a column, a layer or a file the data dictionary
(docs/guide/donnees.md) does not explain, or when the diagnostic's configuration has a key that
docs/guide/configuration.md does not list: the guide is what a pilot team reads to understand its
files, so a new column is documented when it is added.
"""

from __future__ import annotations

import dataclasses
import json
import re
import tomllib
from pathlib import Path

import pandas as pd
import pyogrio
import pytest

from qet_geo.exhibition.diagnose import DiagnosticConfig

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "guide"
DICTIONARY = GUIDE / "donnees.md"
CONFIGURATION = GUIDE / "configuration.md"
HEADING = re.compile(r"^(#{1,6}) (.*)$", re.M)


@pytest.fixture(scope="module")
def report(demo_run) -> Path:
    """The folder `qet demo` writes: `qet diagnose` on Lorient centre, synthetic answers."""
    return demo_run("fr")[0]


def _section(text: str, name: str) -> str | None:
    """The section of a guide whose title names ``name`` in backquotes, subsections included."""
    headings = list(HEADING.finditer(text))
    for i, heading in enumerate(headings):
        if f"`{name}`" not in heading.group(2):
            continue
        level = len(heading.group(1))
        end = next((h.start() for h in headings[i + 1 :] if len(h.group(1)) <= level), len(text))
        return text[heading.start() : end]
    return None


def _quoted(text: str) -> set[str]:
    """Every name written in backquotes."""
    return set(re.findall(r"`([^`\n]+)`", text))


def _written(report: Path) -> dict[str, set[str]]:
    """What the diagnostic wrote: the names of each file, by the section that must explain them."""
    names: dict[str, set[str]] = {}
    for csv in sorted((report / "tables").glob("*.csv")):
        names[f"tables/{csv.name}"] = set(pd.read_csv(csv, nrows=0).columns)
    layers: set[str] = set()
    for layer, _ in pyogrio.list_layers(report / "layers.gpkg"):
        info = pyogrio.read_info(report / "layers.gpkg", layer=layer)
        layers |= {str(layer), *map(str, info["fields"])}
    names["layers.gpkg"] = layers
    route = json.loads((report / "route" / "visite.geojson").read_text(encoding="utf-8"))
    properties: set[str] = set()
    for feature in route["features"]:
        properties |= set(feature["properties"])
        for street in feature["properties"].get("streets") or []:
            properties |= set(street)
    names["route/visite.geojson"] = properties
    return names


def test_the_data_dictionary_explains_every_column_qet_diagnose_writes(report: Path) -> None:
    guide = DICTIONARY.read_text(encoding="utf-8")
    missing: list[str] = []
    for file, names in _written(report).items():
        section = _section(guide, file)
        if section is None:
            missing.append(f"  {file}: no section; add one titled with `{file}`")
            continue
        undocumented = sorted(names - _quoted(section))
        if undocumented:
            missing.append(
                f"  {file}: {', '.join(undocumented)} -> add a row (meaning, unit) to the section "
                f"titled with `{file}`"
            )
    files = sorted(str(p.relative_to(report)) for p in report.rglob("*") if p.is_file())
    unlisted = [f for f in files if f not in guide]
    if unlisted:
        missing.append(
            f"  files {', '.join(unlisted)} -> list them in the tree of « Ce qu'écrit "
            "`qet diagnose` »"
        )
    assert not missing, (
        f"{DICTIONARY.relative_to(ROOT)} does not explain what `qet diagnose` writes on Lorient "
        "(synthetic answers); document it in French, in plain words, with its unit:\n"
        + "\n".join(missing)
    )


def test_the_guide_lists_every_key_of_the_configuration() -> None:
    guide = CONFIGURATION.read_text(encoding="utf-8")
    start = guide.index("## Toutes les clés")
    end = guide.find("\n## ", start + 1)
    table = guide[start : end if end > 0 else len(guide)]
    rows = set(re.findall(r"^\| `([a-z_]+)` \|", table, re.M))
    keys = {f.name for f in dataclasses.fields(DiagnosticConfig)}
    assert not keys - rows, (
        f"{CONFIGURATION.relative_to(ROOT)}: add a row to « Toutes les clés » for the keys "
        f"{sorted(keys - rows)} of DiagnosticConfig (qet_geo/exhibition/diagnose.py): what it "
        "says, its values, its default"
    )
    assert not rows - keys, f"keys the configuration no longer has: {sorted(rows - keys)}"
    # the example is a configuration the diagnostic reads
    example = re.search(r"```toml\n(.*?)```", guide, re.S)
    assert example is not None
    assert set(tomllib.loads(example.group(1))) <= keys


def test_the_guide_is_linked_and_its_links_lead_somewhere() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/guide/README.md" in readme
    pages = {p.name: p.read_text(encoding="utf-8") for p in GUIDE.glob("*.md")}
    assert {"README.md", "configuration.md", "enquetes.md", "donnees.md", "extrait.md"} <= set(
        pages
    )
    broken = []
    for name, text in pages.items():
        for target, anchor in re.findall(r"\]\(([a-z_]+\.md)?(?:#([a-z0-9-]+))?\)", text):
            page = pages.get(target or name)
            if page is None or (anchor and f'<a id="{anchor}"></a>' not in page):
                broken.append(f"{name}: ({target}#{anchor})")
    assert not broken, broken
