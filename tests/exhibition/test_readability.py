"""Residents can read the exhibition: no raw column name, no unexplained statistic (issue 14).

The real report and the maps of a real diagnostic (Lorient centre, labelled-synthetic answers,
as ``qet demo`` writes them) are read as a resident sees them: the visible text of the page
(tags, scripts and styles stripped; attributes such as ids are not text) and, for the maps, the
words of their legends, layers and tooltips. Every figure must be named in words with its unit
and every statistic said in words; the technical figures (odds ratios, AUC, intervals, bootstrap)
may only appear in the foldable "Méthode" section, each explained there.
"""

from __future__ import annotations

import datetime
import html
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from qet_geo.constraints.indicators import FIGURES, INDICATORS
from qet_geo.i18n import day

runner = CliRunner()

#: Words of technical statistics, in both languages.
STATISTICS = re.compile(
    r"rapport de cotes|odds ratio|\bAUC\b|\bIC\b|\bCI\b|p-value|valeur p\b|"
    r"intervalle de confiance|confidence interval|bootstrap|régression|regression",
    re.IGNORECASE,
)
#: snake_case tokens: a column name, never a word.
SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
_METHOD = re.compile(r"<details[^>]*id=['\"]method['\"][^>]*>.*?</details>", re.S)


def _visible(page: str) -> str:
    """The text a reader sees: no script, style, tag; entities decoded."""
    page = re.sub(r"<(script|style)\b[^>]*>.*?</\1>", " ", page, flags=re.S | re.I)
    page = re.sub(r"<[^>]+>", " ", page)
    return re.sub(r"[ \t\r\n]+", " ", html.unescape(page))  # no-break spaces kept


@pytest.fixture(scope="module")
def french(demo_run) -> Path:
    return demo_run("fr")[0]


@pytest.fixture(scope="module")
def english(demo_run) -> Path:
    return demo_run("en")[0]


def _raw_names(out: Path) -> set[str]:
    """Every indicator name, and every *_kgco2e, *_m, *_min column of the output tables."""
    names = set(INDICATORS)
    for table in (out / "tables").glob("*.csv"):
        columns = pd.read_csv(table, nrows=0).columns
        names |= {str(c) for c in columns if re.search(r"(_kgco2e|_m|_min)$", str(c))}
    return names


def _raw_in(text: str, names: set[str]) -> list[str]:
    found = [n for n in names if re.search(rf"(?<![\w/.-]){re.escape(n)}(?![\w-])", text)]
    return sorted(set(found) | set(SNAKE.findall(text)))


def _map_words(page: str) -> str:
    """The visible text of a map page and the words its scripts show (tooltips, layer names)."""
    words = [_visible(page)]
    for aliases in re.findall(r'"aliases":\s*(\[[^\]]*\])', page):
        words += [html.unescape(a) for a in json.loads(aliases)]
    for name in re.findall(r'"name":\s*"([^"]*)"', page):
        words.append(html.unescape(name))
    words += [html.unescape(t) for t in re.findall(r'"t\d+":\s*"([^"]*)"', page)]
    return " | ".join(words)


# --------------------------------------------------------------------------------------------------
# the report


def test_the_report_shows_no_raw_column_name(french: Path) -> None:
    page = (french / "index.html").read_text(encoding="utf-8")
    text = _visible(page)
    assert "Diagnostic du quartier" in text
    assert _raw_in(text, _raw_names(french)) == []


def test_statistics_are_said_in_words_and_their_figures_kept_for_the_method(french: Path) -> None:
    page = (french / "index.html").read_text(encoding="utf-8")
    method = _METHOD.findall(page)
    assert len(method) == 1, "one foldable Méthode section"
    assert re.search(r"<summary>[^<]*Méthode", method[0])
    outside = _visible(_METHOD.sub(" ", page))
    assert STATISTICS.findall(outside) == []
    # the links are said in words, for residents
    links = _visible(page[page.index("id='links'") :].split("</section>")[0])
    assert re.search(r"fois (plus|moins) de chances|de chances en (plus|moins)", links)
    assert "pas de lien net" in links or "fois plus" in links
    # the method section explains every statistic it shows: a term is a <dt> with its <dd>
    terms = dict(re.findall(r"<dt>(.*?)</dt>\s*<dd>(.*?)</dd>", method[0], re.S))
    inside = _visible(re.sub(r"<dl\b.*?</dl>", " ", method[0], flags=re.S))
    for word in {w.lower() for w in STATISTICS.findall(inside)}:
        explained = [d for t, d in terms.items() if word in _visible(t).lower()]
        assert explained and len(_visible(explained[0])) > 40, f"{word!r} is not explained"
    for word in ("rapport de cotes", "auc", "ic 95"):
        assert word in inside.lower().replace("\u00a0", " "), word
    # the margins' scenario that needs a timetable the demo lacks is left out, and says why
    assert re.search(r"arrêt fréquent.{0,80}» : scénario laissé de côté.{0,200}GTFS", inside)
    # and the odds ratios are there, with their interval
    assert re.search(r"\d,\d\d \[\d,\d\d ; \d+,\d\d\]", inside)


def test_the_report_is_written_the_french_way(french: Path) -> None:
    page = (french / "index.html").read_text(encoding="utf-8")
    text = _visible(page)
    assert day(datetime.date.today()).render("fr") in text  # a date in words
    assert not re.search(r"\d{4}-\d\d-\d\d", text)
    assert not re.search(r"\d\.\d", text), re.findall(r".{20}\d\.\d.{20}", text)  # decimal comma
    assert not re.search(r"\d %|\d%", text), re.findall(r".{20}\d ?%.{5}", text)  # nbsp before %
    assert "\u00a0%" in text
    # thousands have a thin space: no bare run of 4 or more digits but a year
    bare = [
        n for n in re.findall(r"(?<![\d\u202f,])\d{4,}(?![\d,])", text) if not 1900 < int(n) < 2100
    ]
    assert bare == []


def test_every_figure_has_its_words_from_the_registry(french: Path) -> None:
    text = _visible((french / "index.html").read_text(encoding="utf-8"))
    for name in (
        *("share_pct", "mean_kg", "median_min", "share_within_15", "saving", "share_homes"),
        *("neighbourhood", "france", "potential", "footprint", "built"),
    ):
        figure = FIGURES[name]
        assert figure.label.render("fr")[:1].upper() + figure.label.render("fr")[1:] in text, name
        assert figure.sentence.render("fr") in text, name
    assert INDICATORS["score_15min"].sentence.render("fr") in text
    # profiles are named as on the map, never by their number alone
    profiles = _visible(
        (french / "index.html").read_text(encoding="utf-8").split("id='profiles'")[1]
    ).split("Empreinte")[0]
    assert "Profil 1" in text and not re.search(r"^\s*0\s", profiles)


def test_the_english_report_has_no_french_left_in_its_labels(english: Path) -> None:
    page = (english / "index.html").read_text(encoding="utf-8")
    assert '<html lang="en"' in page
    text = _visible(page)
    assert _raw_in(text, _raw_names(english)) == []
    assert day(datetime.date.today()).render("en") in text
    for figure in FIGURES.values():
        french_words = figure.label.render("fr"), figure.sentence.render("fr")
        english_words = figure.label.render("en"), figure.sentence.render("en")
        assert french_words != english_words, figure.name
    # the parts written by the report (not the neighbourhood's own place names)
    ours = _visible(page.split("id='route'")[0])
    french = re.compile(
        r"\b(les|des|du|une|avec|aucune|logements|réponses|Méthode|"
        r"jusqu|mètres|économie|Profil|fois)\b"
    )
    assert french.findall(ours) == []
    assert re.search(r"times (more|less) likely|% (more|less) likely|no clear link", ours)


# --------------------------------------------------------------------------------------------------
# the maps of the diagnostic


def test_the_maps_show_no_raw_column_name_and_explain_their_figure(french: Path) -> None:
    names = _raw_names(french)
    pages = sorted((french / "maps").glob("*.html"))
    assert len(pages) >= 4
    sentences = {
        "food_shop_min": INDICATORS["food_shop_min"].sentence.render("fr"),
        "score_15min": INDICATORS["score_15min"].sentence.render("fr"),
        "profiles": FIGURES["total_kgco2e_mean"].sentence.render("fr"),
    }
    for path in pages:
        page = path.read_text(encoding="utf-8")
        words = _map_words(page)
        assert _raw_in(words, names) == [], path.name
        assert STATISTICS.findall(words) == [], path.name
        assert not re.search(r"\d\.\d", _visible(page)), path.name
        if path.stem in sentences:
            assert sentences[path.stem] in _visible(page), path.name


def test_the_english_maps_have_no_french_labels(english: Path) -> None:
    for path in sorted((english / "maps").glob("*.html")):
        text = _visible(path.read_text(encoding="utf-8"))
        assert not re.search(
            r"\b(jusqu|logements|minutes jusqu|Profil|empreinte|carreaux)\b", text
        ), path.name
