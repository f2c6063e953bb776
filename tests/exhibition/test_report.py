"""The exhibition page: what residents read of the margins of manoeuvre."""

from __future__ import annotations

import pytest

from qet_geo.exhibition.report import ReportContent, render_report


def _content(saving: float, low: float, high: float) -> ReportContent:
    return ReportContent(
        name="Kervénanec",
        synthetic=False,
        n_answers=120,
        homes=800,
        score_15min=0.6,
        usage_rows=[{"label": "Alimentation", "neighbourhood": 2000.0, "france": 2100.0}],
        profile_rows=[],
        constraint_rows=[],
        model_rows=[],
        margin_rows=[
            {
                "label": "Un marché à moins de 10 minutes",
                "saving": saving,
                "low": low,
                "high": high,
                "share_homes": 0.3,
            }
        ],
        vote_rows=[],
    )


@pytest.mark.parametrize(
    ("lang", "words"), [("fr", "aucune économie estimée"), ("en", "no saving estimated")]
)
def test_a_negative_saving_is_never_shown_as_a_saving(lang: str, words: str) -> None:
    page = render_report(_content(-12.34, -30.0, 4.0), lang=lang)
    row = page[page.index("Un marché") :]
    row = row[: row.index("</tr>")]
    assert words in row
    assert "12" not in row and "-" not in row.replace("–", "")  # no figure of a "saving" < 0


def test_a_positive_saving_keeps_its_figure_and_interval() -> None:
    page = render_report(_content(12.34, 4.5, 20.0), lang="fr")
    row = page[page.index("Un marché") :]
    row = row[: row.index("</tr>")]
    # in words for residents, the interval as such in the method section
    assert "12,3 (entre 4,5 et 20,0)" in row and "aucune" not in row
    method = page[page.index("<details id='method'>") :]
    assert "12,3 [4,5 ; 20,0]" in method[: method.index("</details>")]


@pytest.mark.parametrize(("lang", "words"), [("fr", "peut-être aucune"), ("en", "perhaps none")])
def test_a_saving_whose_interval_reaches_zero_is_said_uncertain(lang: str, words: str) -> None:
    page = render_report(_content(13.5, -28.9, 53.6), lang=lang)
    row = page[page.index("Un marché") :]
    row = row[: row.index("</tr>")]
    assert words in row and "28" not in row


@pytest.mark.parametrize(("lang", "words"), [("fr", "laissé de côté"), ("en", "left out")])
def test_a_scenario_left_out_is_said_in_the_method_section(lang: str, words: str) -> None:
    from qet_geo.i18n import msg

    content = _content(12.34, 4.5, 20.0)
    content.margins_left_out = [
        msg(
            "« {label} » : scénario laissé de côté, faute de données : {missing}.",
            label="Un arrêt fréquent",
            missing="GTFS",
        ).render(lang)
    ]
    page = render_report(content, lang=lang)
    method = page[page.index("<details id='method'>") :]
    method = method[: method.index("</details>")]
    assert words in method and "Un arrêt fréquent" in method


@pytest.mark.parametrize(
    ("lang", "edge", "off"),
    [
        (
            "fr",
            "200 logements sur 800 (25\u00a0%) atteignent le bord",
            "3 logements sont trop loin",
        ),
        ("en", "200 of 800 homes (25%) reach the edge", "3 homes are too far"),
    ],
)
def test_the_report_says_what_the_walking_figures_may_miss(lang: str, edge: str, off: str) -> None:
    content = _content(12.34, 4.5, 20.0)
    content.homes_at_edge, content.homes_off_network = 200, 3
    section = render_report(content, lang=lang)
    section = section[section.index("<section id='constraints'>") :]
    section = section[: section.index("</section>")]
    assert edge in section and off in section
    # nothing to say: no note
    quiet = render_report(_content(12.34, 4.5, 20.0), lang=lang)
    assert (
        "OpenStreetMap"
        not in quiet[quiet.index("<section id='constraints'>") :].split("</section>")[0]
    )


def test_the_maps_of_a_large_area_are_said_to_show_200m_cells() -> None:
    """Above maps._cells.AGGREGATE_ABOVE_HOMES homes the maps draw cells: the report says so."""
    from maps._cells import AGGREGATE_ABOVE_HOMES

    content = _content(12.34, 4.5, 20.0)
    content.maps = [("Commerce <alimentaire>", "maps/food_shop_min.html")]
    small = render_report(content, lang="fr")
    section = small[small.index("<section id='maps'>") :]
    assert "carreaux de 200 m" not in section[: section.index("</section>")]
    content.homes = AGGREGATE_ABOVE_HOMES + 1
    page = render_report(content, lang="fr")
    section = page[page.index("<section id='maps'>") :]
    section = section[: section.index("</section>")]
    assert "plus de 4\u202f000 logements" in section and "carreaux de 200 m" in section
    assert "moins de 11 logements" in section
    assert "Commerce &lt;alimentaire&gt;" in section  # titles still escaped


def test_the_maps_note_in_english() -> None:
    from maps._cells import AGGREGATE_ABOVE_HOMES

    content = _content(12.34, 4.5, 20.0)
    content.maps = [("Food", "maps/food_shop_min.html")]
    content.homes = AGGREGATE_ABOVE_HOMES + 1
    assert "200 m cells" in render_report(content, lang="en")
