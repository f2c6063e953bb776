"""The method kit (qet_geo.kit) and its command, ``qet kit``.

The kit is the same bytes each time it is made for a version and a language (its checksum can
be cited); its read-me lists every file with its true size and SHA-256; the quota sheet's worked
sample sizes are the library's; the exhibition's panels carry the French averages of the
NosGestesClimat scale and the constraints of the registry; the workshop formats and the roadbook
exist in both languages; nothing a file says is markup that runs.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from qet_geo.analysis.footprint import french_averages
from qet_geo.cli.main import app as cli
from qet_geo.constraints.indicators import INDICATORS, USAGE_CONSTRAINTS
from qet_geo.errors import UnknownCodeError
from qet_geo.i18n import number
from qet_geo.kit import KIT_VERSION, kit_archive, kit_file, kit_files, write_kit
from qet_geo.surveys.representativeness import sample_size
from qet_geo.surveys.schema import USAGE_LABELS, USAGES

ROOT = f"qet-kit-{KIT_VERSION}/"


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_archive_is_stable_and_its_readme_lists_true_checksums(lang: str) -> None:
    first = kit_archive(lang)
    assert kit_archive(lang) == first
    with zipfile.ZipFile(io.BytesIO(first)) as zf:
        names = zf.namelist()
        assert names == [
            ROOT + n for n in [*(f.name for f in kit_files()), "LICENCE.txt", "LISEZMOI.txt"]
        ]
        readme = zf.read(ROOT + "LISEZMOI.txt").decode()
        for f in kit_files():
            data = zf.read(ROOT + f.name)
            assert data == kit_file(f.name, lang)
            assert f"{f.name}  {len(data)}  sha256:{hashlib.sha256(data).hexdigest()}" in readme
        assert "Licence Ouverte" in zf.read(ROOT + "LICENCE.txt").decode()
    assert KIT_VERSION in readme


def test_the_languages_differ_where_texts_are() -> None:
    assert kit_file("formats_ateliers.md", "fr") != kit_file("formats_ateliers.md", "en")
    english = kit_file("formats_ateliers.md", "en").decode()
    assert english.startswith("# ") and "Déroulé" not in english and "Agenda" in english


def test_the_quota_sheet_gives_the_library_sample_sizes() -> None:
    book = load_workbook(io.BytesIO(kit_file("feuille_de_quotas.xlsx")))
    size = book.worksheets[0]
    rows = [r for r in size.iter_rows(values_only=True) if isinstance(r[0], int)]
    assert rows and all(n == sample_size(p) for p, n in rows)
    assert [ws.title for ws in book.worksheets] == ["Taille", "Âge", "Genre", "CSP"]
    ages = book["Âge"]
    assert ages["D2"].value.startswith("=IF(") and "Taille" in ages["D2"].value


def test_the_exhibition_writes_the_french_averages_and_the_constraints() -> None:
    html = kit_file("exposition_modele.html").decode()
    for usage, value in french_averages().items():
        assert number(value, decimals=0).render("fr") in html
        assert USAGE_LABELS[usage].render("fr") in html
    for name in USAGE_CONSTRAINTS["transportation_mode"]:
        sentence = INDICATORS[name].sentence.render("fr")
        assert sentence.replace("'", "'")[:20] in html
    assert "<script" not in html and "{{" not in html


def test_the_roadbook_lists_what_to_observe_for_each_constrained_usage() -> None:
    html = kit_file("carnet_de_visite.html", "en").decode()
    assert '<html lang="en">' in html
    for usage in USAGES:
        if USAGE_CONSTRAINTS.get(usage):
            assert USAGE_LABELS[usage].render("en") in html
    assert html.count('<th scope="row">') == 12


def test_an_unknown_file_is_named_with_the_list() -> None:
    with pytest.raises(UnknownCodeError, match=r"formulaire_su\.xlsx"):
        kit_file("secret.txt")


def test_write_kit_writes_every_file(tmp_path: Path) -> None:
    written = write_kit(tmp_path / "kit")
    assert sorted(p.name for p in written) == sorted(
        [*(f.name for f in kit_files()), "LICENCE.txt", "LISEZMOI.txt"]
    )
    assert (tmp_path / "kit" / "formulaire_su.xlsx").read_bytes() == kit_file("formulaire_su.xlsx")
    assert not list((tmp_path / "kit").glob(".*.tmp"))


def test_the_command_writes_the_kit_or_its_zip(tmp_path: Path) -> None:
    done = CliRunner().invoke(cli, ["kit", str(tmp_path / "k")])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "k" / "formats_ateliers.md").is_file()
    done = CliRunner().invoke(cli, ["--lang", "en", "kit", str(tmp_path / "z"), "--zip"])
    assert done.exit_code == 0, done.output
    assert "Kit 2026.12 written" in done.output
    assert (tmp_path / "z" / f"qet-kit-{KIT_VERSION}.zip").read_bytes() == kit_archive("en")
    # a file where the folder should be: a sentence, no traceback
    done = CliRunner().invoke(cli, ["kit", str(tmp_path / "z" / f"qet-kit-{KIT_VERSION}.zip")])
    assert done.exit_code == 2 and "est un fichier" in done.output
    assert "Traceback" not in done.output
