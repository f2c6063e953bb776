"""No user text is ever executed as a template, nor read as markup or script (issue 12, item 1).

branca renders every element's output a second time as a Jinja2 template: before the escaping
chokepoint (:mod:`qet_geo.escaping`), a neighbourhood named ``Kerv {{ cycler.__init__.
__globals__.os.popen('id').read() }}`` ran ``id`` on the server when the national map was drawn,
``{{ 7*7 }}`` in a tooltip showed 49, and ``Quartier {{ '`` made the page fail. Here every map
builder, the report, the diagnostic exhibition and the visit roadbook are fed such payloads in
every text they show (names, OSM names and tags, survey labels, vote themes, titles, file
names), and each page is checked: nothing evaluated, no script broken out of, every script
still valid JavaScript (node), and the text read back equal to what was given. One test opens
a map in headless chromium and reads the tooltips, panel and layer names back from the DOM.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import warnings
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import geopandas as gpd
import jinja2
import numpy as np
import pandas as pd
import pytest
import shapely
from branca.element import Element
from hypothesis import given, settings
from hypothesis import strategies as st

import maps
from qet_geo.escaping import (
    TEMPLATE_OPENERS,
    escape_html,
    js_string,
    script_json,
    url_path,
    xml_chars,
)
from tests.browser import open_page
from tests.maps.test_maps import feature_collections, readable, tooltip_pairs

REPO = Path(__file__).resolve().parents[1]

#: The shell command of the attack prints a marker only its execution can produce.
RCE = "Kerv {{ cycler.__init__.__globals__.os.popen('printf QET%sRCE OWNED').read() }}"

#: Payloads, each with what its evaluation would print (never in a page).
PAYLOADS: dict[str, str] = {
    "expression": "Q{{ 7*7 }}Q",
    "statement": "qet{% for x in range(3) %}x{% endfor %}qet",
    "comment": "qet{# c #}qet",
    "rce": RCE,
    "broken": "Quartier {{ '",
    "script": "</script><script>alert(1)</script>",
    "quotes": 'L\'"Arc" `b` \\u003cb\\u003e ${1+1} & co',
    "newlines": "ligne 1\nligne 2\r\nligne 3",
}
EVALUATED = ("Q49Q", "qetxxxqet", "qetqet", "QETOWNEDRCE")

# --------------------------------------------------------------------------------------------------
# helpers


def assert_inert(page: str) -> None:
    """Nothing of the payloads was evaluated, and no script element was opened by one."""
    text = html.unescape(readable(page))
    for marker in EVALUATED:
        assert marker not in text, marker
    assert "<script>alert(1)" not in page
    for opener in TEMPLATE_OPENERS:  # no payload left template syntax in the page
        for payload in PAYLOADS.values():
            if opener in payload:
                assert payload not in page
    assert_scripts_parse(page)


_NODE_CHECK = """
const scripts = JSON.parse(require("fs").readFileSync(0, "utf8"));
scripts.forEach((code, i) => {
  try { new Function(code); } catch (err) { console.log(i + ": " + err.message); }
});
"""


def assert_scripts_parse(page: str) -> None:
    """Every <script> of ``page`` is closed where it should be and is valid JavaScript (node)."""
    opened = len(re.findall(r"<script\b", page))
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script\s*>", page, re.S)
    assert opened == len(scripts) == len(re.findall(r"</script\s*>", page))
    done = subprocess.run(
        ["node", "-e", _NODE_CHECK],
        input=json.dumps(scripts),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0 and done.stdout == "", done.stdout + done.stderr


def render(m: Any) -> str:
    return str(m.get_root().render())


def all_tips(page: str) -> list[dict[str, str]]:
    """Every GeoJSON tooltip of the page, label -> text, as the browser shows them."""
    return [
        {html.unescape(k): html.unescape(v) for k, v in tooltip_pairs(c, f).items()}
        for c in feature_collections(page)
        for f in c["features"]
    ]


# --------------------------------------------------------------------------------------------------
# the chokepoint, context by context


@pytest.mark.parametrize("payload", list(PAYLOADS.values()), ids=list(PAYLOADS))
def test_html_escape_round_trips_and_survives_a_template_rendering(payload: str) -> None:
    out = escape_html(payload)
    assert not set(out) & set('<>"`\\{}')
    assert html.unescape(out) == payload
    # branca's second rendering (Element compiles its text) and a plain Jinja2 one: unchanged
    assert Element(out).render() == out
    assert jinja2.Template(out).render() == out
    # in a double-quoted attribute, read back by a real parser
    parser = _Attrs()
    parser.feed(f'<a title="{out}">{out}</a>')
    assert parser.attrs == [("title", payload)] and parser.text == payload


def test_html_escape_drops_what_xml_forbids_and_keeps_french_text() -> None:
    assert escape_html("Café d'en bas\t«\u00a0ok\u00a0»") == "Café d'en bas\t«\u00a0ok\u00a0»"
    assert escape_html("a\x00b\x0bc\x1fd\ufffe") == "abcd"
    assert xml_chars("a\x00b\nc") == "ab\nc" and escape_html(None) == xml_chars(None) == ""


@pytest.mark.parametrize("payload", list(PAYLOADS.values()), ids=list(PAYLOADS))
def test_script_json_round_trips_and_cannot_leave_the_script(payload: str) -> None:
    data = {"name": payload, "list": [payload, 1, 2.5, None, True], "nested": {payload: [{}]}}
    out = script_json(data)
    assert json.loads(out) == data
    assert not any(opener in out for opener in TEMPLATE_OPENERS)
    assert "</" not in out and "<!--" not in out and "`" not in out
    assert Element(out).render() == out
    literal = js_string(payload)
    assert json.loads(literal) == payload and Element(literal).render() == literal
    done = subprocess.run(
        ["node", "-e", f"process.stdout.write(JSON.stringify([{literal}, {out}]))"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(done.stdout) == [payload, data]  # JavaScript reads the same values


def test_script_json_escapes_line_separators_and_refuses_nan() -> None:
    out = script_json(["a\u2028b\u2029c"])
    assert "\u2028" not in out and "\u2029" not in out and json.loads(out) == ["a\u2028b\u2029c"]
    with pytest.raises(ValueError):
        script_json([float("nan")])


# any text, with the characters that matter over-represented
_TEXT = st.text(
    alphabet=st.one_of(st.sampled_from("{}%#<>/&\"'`\\$\r\n\u2028 script"), st.characters()),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_any_text_escaped_for_html_is_inert_and_round_trips(text: str) -> None:
    out = escape_html(text)
    assert not any(opener in out for opener in TEMPLATE_OPENERS)
    # inside its element, as on a page (Jinja2 drops one newline ending a whole template)
    page = f"<p>{out}</p>"
    assert Element(page).render() == page
    assert html.unescape(out) == xml_chars(text)


def test_a_text_ending_with_a_newline_renders_whole_in_its_element() -> None:
    """The example hypothesis found: a lone newline, which a bare Jinja2 template drops."""
    page = f"<p>{escape_html(chr(10))}</p>"
    assert Element(page).render() == page


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_TEXT, st.dictionaries(_TEXT, _TEXT, max_size=3)), max_size=4))
def test_any_data_written_for_a_script_is_inert_and_round_trips(data: list[Any]) -> None:
    out = script_json(data)
    assert not any(opener in out for opener in TEMPLATE_OPENERS)
    assert "</" not in out and "<!--" not in out
    assert Element(out).render() == out
    assert json.loads(out) == data


def test_one_escaper_only() -> None:
    """No module escapes markup by itself: html.escape, markupsafe or a local escape function."""
    own = re.compile(
        r"\bhtml\.escape\b|markupsafe|\bMarkup\(|^def _?escape\w*\(|^import html$", re.M
    )
    found = [
        f"{path.relative_to(REPO)}: {match[0]}"
        for folder in ("qet_geo", "maps", "api")
        for path in sorted((REPO / folder).rglob("*.py"))
        if path != REPO / "qet_geo" / "escaping.py"
        for match in own.finditer(path.read_text(encoding="utf-8"))
    ]
    assert found == []


@pytest.mark.parametrize(
    "path",
    ["maps/profiles.html", "javascript:alert(1)", "route/a b#c?d.gpx", "x'\"{{ 7*7 }}.html"],
)
def test_url_path_stays_a_relative_file(path: str) -> None:
    out = url_path(path)
    assert ":" not in out and "#" not in out and "?" not in out and "{" not in out
    assert unquote(html.unescape(out)) == path


class _Attrs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.attrs: list[tuple[str, str | None]] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attrs += attrs

    def handle_data(self, data: str) -> None:
        self.text += data


# --------------------------------------------------------------------------------------------------
# every map builder

LORIENT = (-3.366, 47.748)


def _points(n: int, crs: int = 4326) -> gpd.GeoSeries:
    xs = LORIENT[0] + 0.002 * np.arange(n)
    ys = LORIENT[1] + 0.001 * (np.arange(n) % 3)
    return gpd.GeoSeries(gpd.points_from_xy(xs, ys), crs=4326).to_crs(crs)


NAMES = list(PAYLOADS.values())


def national_frame() -> gpd.GeoDataFrame:
    n = len(NAMES)
    return gpd.GeoDataFrame(
        {
            "name": NAMES,
            "n_respondents": [40] * n,
            "total_kgco2e_mean": np.linspace(5000, 9000, n),
            "theme": NAMES[::-1],  # vote themes
            "commune": NAMES,
            "Q{{ 7*7 }}Q": NAMES,  # a column of its own name
        },
        geometry=_points(n),
        crs=4326,
    )


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_national_map_shows_names_themes_and_left_out_names_as_text(lang: str) -> None:
    frame = national_frame()
    page = render(
        maps.make_national_map(frame, color="total_kgco2e_mean", left_out=NAMES, lang=lang)
    )
    assert_inert(page)
    tips = all_tips(page)
    key = "Quartier" if lang == "fr" else "Neighbourhood"
    theme = "Thème choisi" if lang == "fr" else "Chosen theme"
    assert sorted(t[key] for t in tips) == sorted(NAMES)
    for tip in tips:
        assert tip[theme] == NAMES[::-1][NAMES.index(tip[key])]
        assert tip["Q{{ 7*7 }}Q"] == tip[key]
    note = readable(page)
    assert escape_html(", ".join(NAMES)) in note  # the neighbourhoods left out, as text


def test_national_map_of_the_attack_runs_nothing() -> None:
    """The attack of issue 12 as it was: the name in the note of neighbourhoods left out."""
    frame = national_frame().iloc[[0]]
    page = render(maps.make_national_map(frame, left_out=[RCE]))
    assert "QETOWNEDRCE" not in page and escape_html(RCE) in page
    assert_inert(page)


def test_amenities_map_shows_osm_names_tags_and_categories_as_text() -> None:
    n = len(NAMES)
    amenities = gpd.GeoDataFrame(
        {
            "category": ["food_shop"] * (n - 1) + ["Q{{ 7*7 }}Q"],  # an unknown category too
            "name": NAMES,
            "tag": [f"shop={p}" for p in NAMES],
        },
        geometry=_points(n, 2154),
        crs=2154,
    )
    for cluster in (True, False):
        page = render(maps.make_amenities_map(amenities, cluster=cluster))
        assert_inert(page)
        points = [
            json.loads(m)
            for m in re.findall(r"var markers = (\[.*?\])\.map\(", page, re.S)  # _Points data
        ]
        tips = [html.unescape(p[2]) for data in points for p in data]
        for name in NAMES:
            assert any(t.startswith(f"<b>{name}</b>") for t in tips), name
            assert any(f"shop={name}" in t for t in tips)


def test_constraints_transit_cycleways_isochrones_maps_with_payloads() -> None:
    n = len(NAMES)
    homes = gpd.GeoDataFrame(
        {"food_shop_min": np.linspace(1, 30, n), "park_min": np.linspace(2, 20, n)},
        geometry=_points(n, 2154).buffer(5),
        crs=2154,
    )
    m = maps.make_constraints_map(homes, "food_shop_min", label=RCE, tooltip=["park_min"])
    stops = gpd.GeoDataFrame(
        {"name": NAMES, "mode": NAMES, "departures_per_hour": np.arange(n, dtype=float)},
        geometry=_points(n, 2154),
        crs=2154,
    )
    maps.make_transit_map(stops, m=m)
    lines = gpd.GeoDataFrame(
        {"name": NAMES, "cycle_type": NAMES},
        geometry=[shapely.LineString([p, (p.x + 30, p.y + 30)]) for p in _points(n, 2154)],
        crs=2154,
    )
    maps.make_cycleways_map(lines, m=m)
    rings = gpd.GeoDataFrame(
        {"minutes": [5, 10], "mode": ["walk", "Q{{ 7*7 }}Q"]},
        geometry=[_points(1, 2154).iloc[0].buffer(r) for r in (200, 400)],
        crs=2154,
    )
    maps.make_isochrones_map(rings, m=m)
    maps.add_title(m, PAYLOADS["statement"])
    page = render(m)
    assert_inert(page)
    tips = all_tips(page)
    assert {t["Arrêt"] for t in tips if "Arrêt" in t} == set(NAMES)
    assert {t["Mode"] for t in tips if "Arrêt" in t} == set(NAMES)
    assert {t["Nom"] for t in tips if "Nom" in t} == set(NAMES)
    assert escape_html(RCE) in readable(page)  # the label, as legend title and layer name
    assert escape_html(PAYLOADS["statement"]) in page  # the title panel


def _cell_respondents() -> pd.DataFrame:
    from qet_geo.inputs.census import point_to_cell_id

    cells = point_to_cell_id(_points(3, 2154).set_axis(range(3))).tolist()
    rng = np.random.default_rng(4)
    rows = 60
    return pd.DataFrame(
        {
            "cell_id": [cells[i % 3] for i in range(rows)],
            "profile": rng.permutation([0, 1, 2] * 20),
            "total_kgco2e": rng.uniform(4000, 12000, rows),
        }
    )


def test_profiles_map_shows_survey_labels_as_text() -> None:
    labels = {0: PAYLOADS["rce"], 1: PAYLOADS["script"], 2: PAYLOADS["quotes"]}
    page = render(maps.make_profiles_map(_cell_respondents(), labels=labels))
    assert_inert(page)
    keys = {k for t in all_tips(page) for k in t}
    for label in labels.values():
        assert any(label in k for k in keys), label


def test_route_map_shows_stop_names_reasons_and_title_as_text() -> None:
    n = len(NAMES)
    stops = gpd.GeoDataFrame(
        {
            "order": range(1, n + 1),
            "name": NAMES,
            "reason": NAMES[::-1],
            "leg_min": [np.nan] + [5.0] * (n - 1),
        },
        geometry=_points(n, 2154),
        crs=2154,
    )
    page = render(maps.make_route_map(stops, title=PAYLOADS["rce"]))
    assert_inert(page)
    text = readable(page)
    for name in NAMES:
        assert f"<b>{escape_html(name)}</b>" in text
    assert escape_html(PAYLOADS["rce"]) in text


def test_compare_map_titles_and_label_are_text() -> None:
    n = 12
    before = gpd.GeoDataFrame(
        {"food_shop_min": np.linspace(1, 30, n)}, geometry=_points(n, 2154), crs=2154
    )
    after = before.assign(food_shop_min=before["food_shop_min"] / 2)
    dual = maps.make_compare_map(
        before, after, "food_shop_min", titles=(RCE, PAYLOADS["script"]), label=PAYLOADS["broken"]
    )
    page = render(dual)
    assert_inert(page)
    assert escape_html(RCE) in page and escape_html(PAYLOADS["broken"]) in readable(page)


def test_basemap_and_page_title_with_payloads() -> None:
    n = 4
    streets = gpd.GeoDataFrame(
        {"highway": ["Q{{ 7*7 }}Q", "residential", RCE, "</script>"]},
        geometry=[shapely.LineString([p, (p.x + 40, p.y)]) for p in _points(n, 2154)],
        crs=2154,
    )
    m = maps.new_map((-3.37, 47.74, -3.35, 47.76), title=RCE)
    maps.make_basemap({"streets": streets}, m=m)
    page = render(m)
    assert_inert(page)
    assert f"<title>{escape_html(RCE)}</title>" in page


# --------------------------------------------------------------------------------------------------
# the report, the diagnostic exhibition and the visit roadbook


def _report_content(**changes: Any) -> Any:
    from qet_geo.exhibition.report import ReportContent

    content = ReportContent(
        name=RCE,
        synthetic=True,
        n_answers=120,
        homes=300,
        score_15min=0.5,
        usage_rows=[{"label": p, "neighbourhood": 1000.0, "france": 900.0} for p in NAMES],
        profile_rows=[
            {"profile": p, "share_pct": 20.0, "n": 24, "description": p, "mean_kg": 8000.0}
            for p in NAMES
        ],
        constraint_rows=[{"label": p, "median_min": 5.0, "share_within_15": 0.8} for p in NAMES],
        model_rows=[
            {
                "usage": p,
                "indicator": "transit_stop_m",  # a registry name: the report shows its label
                "odds_ratio": 1.2,
                "low": 1.0,
                "high": 1.4,
                "unit": p,
                "auc": 0.6,
                "answer": p,
                "n": 120,
                "n_bootstrap": 200,
                "n_splits": 5,
            }
            for p in NAMES
        ],
        margin_rows=[
            {"label": p, "saving": 1.0, "low": 0.5, "high": 1.5, "share_homes": 0.2} for p in NAMES
        ],
        vote_rows=[
            {"usage": p, "theme": p, "footprint": 200.0, "potential": 100.0, "built": 10.0}
            for p in NAMES
        ],
        maps=[(p, f"maps/{p}.html") for p in NAMES],
        route_rows=[{"order": 1, "name": p, "reason": p, "leg": p} for p in NAMES],
        route_summary=PAYLOADS["broken"],
        files=[(p, f"route/{p}.gpx") for p in NAMES],
        date=PAYLOADS["expression"],
    )
    for key, value in changes.items():
        setattr(content, key, value)
    return content


class _Page(HTMLParser):
    """Texts of the page by tag, and the attributes of iframes and links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.texts: list[tuple[str, str]] = []
        self.attrs: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attrs.append((tag, dict(attrs)))
        if tag not in ("meta", "rect", "path", "circle", "br"):
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.stack:
            self.texts.append((self.stack[-1], data))


def read_page(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    return parser


def test_report_shows_every_text_as_given() -> None:
    from qet_geo.exhibition.report import render_report

    page = render_report(_report_content())
    assert_inert(page)
    assert "<script" not in page
    parsed = read_page(page)
    texts = [t for _, t in parsed.texts]
    for payload in NAMES:
        assert texts.count(payload) >= 10, payload  # each table shows it
    frames = [a for tag, a in parsed.attrs if tag == "iframe"]
    assert [unquote(str(a["src"])) for a in frames] == [f"maps/{p}.html" for p in NAMES]
    assert [a["title"] for a in frames] == NAMES
    links = [unquote(str(a["href"])) for tag, a in parsed.attrs if tag == "a"]
    assert links == [f"route/{p}.gpx" for p in NAMES]
    title = next(t for tag, t in parsed.texts if tag == "title")
    assert title.endswith(f"– {RCE}")
    odd = render_report(_report_content(), lang='en"><script>alert(1)</script>')
    assert '<html lang="en">' in odd and "<script" not in odd


@pytest.fixture(scope="module")
def visit(lorient_pbf: Path) -> Any:
    """A visit of four Lorient places named and explained by the payloads."""
    from qet_geo.inputs.osm import read_osm
    from qet_geo.network.graph import build_network
    from qet_geo.visit.plan import plan_route

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        osm = read_osm(lorient_pbf)
    nodes, edges = osm.graph("walk")
    net = build_network(nodes, edges, mode="walk")
    amen = osm.amenities[osm.amenities["name"].notna()]
    amen = amen[~amen.index.duplicated()].head(40)
    pts = gpd.GeoDataFrame(
        {"name": list(PAYLOADS.values()) * 5},
        geometry=amen.geometry.representative_point().to_numpy()[: len(PAYLOADS) * 5],
        crs=amen.crs,
    ).head(len(PAYLOADS))
    pts["reason"] = pts["name"].to_numpy()[::-1]
    pts["category"] = [f"cat {p}" for p in pts["name"]]
    return plan_route(net, pts.reset_index(drop=True))


def test_roadbook_and_gpx_show_names_and_reasons_as_text(visit: Any, tmp_path: Path) -> None:
    import gpxpy

    from qet_geo.visit.export import write_route

    paths = write_route(visit, tmp_path / "visite.gpx", title=RCE)
    page = paths["html"].read_text(encoding="utf-8")
    assert_inert(page)
    parsed = read_page(page)
    strong = [t for tag, t in parsed.texts if tag == "strong"]
    assert sorted(strong[1:]) == sorted(NAMES)  # the total time, then one name per stop
    cells = [t for tag, t in parsed.texts if tag == "td"]
    for payload in NAMES:
        assert payload in cells
    assert f"Visite du quartier : {RCE}" in [t for tag, t in parsed.texts if tag == "h1"]
    gpx = gpxpy.parse(paths["gpx"].read_text(encoding="utf-8"))
    assert gpx.name == RCE
    # XML readers turn CR LF into LF (gpxpy writes text as is, escaping markup only)
    as_read = sorted(p.replace("\r\n", "\n") for p in NAMES)
    assert sorted(w.name[3:] for w in gpx.waypoints) == as_read
    assert sorted(w.description for w in gpx.waypoints) == as_read


def test_diagnostic_exhibition_named_with_a_payload(lorient_pbf: Path, tmp_path: Path) -> None:
    from qet_geo.exhibition.diagnose import DiagnosticConfig, run_diagnostic

    config = DiagnosticConfig(
        osm=lorient_pbf,
        name=RCE,
        territory=REPO / "data" / "osm" / "lorient_centre.geojson",
        synthetic=200,
        route_stops=4,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run_diagnostic(config, tmp_path / "out")
    page = result.index.read_text(encoding="utf-8")
    assert_inert(page)
    assert f"Diagnostic du quartier – {RCE}" in [
        t for tag, t in read_page(page).texts if tag == "h1"
    ]
    roadbook = (tmp_path / "out" / "route" / "visite.html").read_text(encoding="utf-8")
    assert_inert(roadbook)
    for path in (tmp_path / "out" / "maps").glob("*.html"):
        assert "QETOWNEDRCE" not in path.read_text(encoding="utf-8")


# --------------------------------------------------------------------------------------------------
# in a real browser: what the resident sees is exactly the string given

_OPEN_TOOLTIPS = """
<script>
window.addEventListener("load", function () {
  var out = document.createElement("div");
  out.id = "qet-tooltips";
  document.body.appendChild(out);
  %(map)s.eachLayer(function (layer) {
    var tip = layer.getTooltip && layer.getTooltip();
    if (!tip) { return; }
    var targets = [];
    if (layer.eachLayer) { layer.eachLayer(function (one) { targets.push(one); }); }
    else { targets.push(layer); }
    targets.forEach(function (target) {
      var content = typeof tip._content === "function" ? tip._content(target) : tip._content;
      var box = document.createElement("div");
      box.className = "qet-tip";
      if (typeof content === "string") { box.innerHTML = content; }
      else { box.appendChild(content); }
      out.appendChild(box);
    });
  });
});
</script>
"""


class _Dom(HTMLParser):
    """Texts of the <td> cells of the tooltips, of the panels and of the layer control."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.where: list[str] = []
        self.cells: list[str] = []
        self.bolds: list[str] = []
        self.panels: list[str] = []
        self.layers: list[str] = []
        self._classes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "input", "img", "meta", "link"):
            return
        self._classes.append(f"{tag} {dict(attrs).get('class') or ''}")

    def handle_endtag(self, tag: str) -> None:
        if self._classes:
            self._classes.pop()

    def handle_data(self, data: str) -> None:
        inside = " ".join(self._classes)
        if "qet-tip" in inside and self._classes and self._classes[-1].startswith("td"):
            self.cells.append(data)
        elif "qet-tip" in inside and self._classes and self._classes[-1].startswith("b "):
            self.bolds.append(data)
        elif "qet-legend-note" in inside:
            self.panels.append(data)
        elif "leaflet-control-layers-overlays" in inside and data.strip():
            self.layers.append(data.strip())


def test_browser_shows_each_name_exactly(tmp_path: Path) -> None:
    names = NAMES
    frame = national_frame()
    frame = frame[frame["name"].isin(names)]
    m = maps.make_national_map(frame, figures=["theme"], left_out=[RCE])
    stops = gpd.GeoDataFrame(
        {
            "order": range(1, len(names) + 1),
            "name": names,
            "reason": [""] * len(names),
            "leg_min": [np.nan] + [1.0] * (len(names) - 1),
        },
        geometry=_points(len(names)),
        crs=4326,
    )
    maps.make_route_map(stops, m=m)  # folium.Tooltip: HTML pasted into a JS template literal
    page = render(m)
    assert_inert(page)
    (map_name,) = re.findall(r"var (map_[0-9a-f]+) = L\.map\(", page)
    page = page.replace("</body>", _OPEN_TOOLTIPS % {"map": map_name} + "</body>")
    path = tmp_path / "national.html"
    path.write_text(page, encoding="utf-8")
    run = open_page(path)
    assert run.console == [], run.console
    dom = _Dom()
    dom.feed(run.dom)
    # the DOM is read through a text-mode pipe, which turns CR LF into LF
    seen = [n.replace("\r\n", "\n") for n in names]
    for name in seen:  # the name, and the theme (the same payloads), in their tooltip cells
        assert dom.cells.count(name) == 2, (name, dom.cells)
    for i, name in enumerate(seen, start=1):
        assert f"{i}. {name}" in dom.bolds, (name, dom.bolds)
    assert dom.panels == [f"Hors carte, faute de territoire (1) : {RCE}."]
    assert f"Quartiers du réseau ({len(names)})" in dom.layers
    assert "QETOWNEDRCE" not in run.dom and "alert(1)</script><script" not in run.dom


def test_own_elements_render_once_even_given_unescaped_text() -> None:
    """Second line of defence: panels and legends are never compiled as templates again."""
    from maps._base import Panel

    m = maps.new_map((-3.37, 47.74, -3.35, 47.76))
    Panel(f"<b>{PAYLOADS['expression']}</b> {RCE}", css_class="qet-title").add_to(m)
    page = render(m)
    assert f"<b>{PAYLOADS['expression']}</b> {RCE}" in page
    assert "Q49Q" not in page and "QETOWNEDRCE" not in page


def test_a_qr_code_title_is_text() -> None:
    from qet_geo.escaping import qr_svg

    svg = qr_svg("https://exemple.fr/q/x/forum?code=AB12", title='<script>"{{ 7*7 }}')
    assert svg.startswith("<svg ") and svg.endswith("</svg>")
    assert "<script>" not in svg and "{{" not in svg and 'aria-label="&lt;script&gt;&quot;' in svg
    assert "exemple.fr" not in svg  # the data is drawn as modules, never written as text
