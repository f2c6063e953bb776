"""The portal's records (:mod:`qet_geo.store.portal`: addresses, phases, the published
neighbourhood) and the one way a team's Markdown becomes HTML
(:func:`qet_geo.escaping.markdown_html`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from jinja2 import Template
from sqlalchemy.orm import Session

from qet_geo.errors import ValidationError
from qet_geo.escaping import MARKDOWN_MAX_CHARS, markdown_html
from qet_geo.store import models as store
from qet_geo.store.models import ConflictError, NotFoundError
from qet_geo.store.portal import (
    PHASE_LABELS,
    PHASE_STATE_LABELS,
    PHASE_STATES,
    PHASES,
    RESERVED_SLUGS,
    phases_of,
    public_hood,
    set_phase,
    set_slug,
    slug_for,
)


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    engine = store.make_engine(f"sqlite:///{tmp_path / 'qet.db'}")
    store.create_schema(engine)
    with store.session_scope(engine) as s:
        store.add_neighbourhood(s, name="Quartier de Kervénanec (Lorient)")
        store.add_neighbourhood(s, name="Bois du Château")
        yield s
    engine.dispose()


def _hood(session: Session, hood_id: int) -> store.Neighbourhood:
    hood = session.get(store.Neighbourhood, hood_id)
    assert hood is not None
    return hood


# --------------------------------------------------------------------------------------------------
# addresses


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Quartier de Kervénanec (Lorient)", "quartier-de-kervenanec-lorient"),
        ("Bel-Air / Saint-Germain-en-Laye", "bel-air-saint-germain-en-laye"),
        ("Porte d'Orléans — Paris 14e", "porte-d-orleans-paris-14e"),
        ("  Œuvre   ", "uvre"),  # Œ has no ASCII decomposition: dropped, not mangled
        ("<script>", "script"),
    ],
)
def test_slug_for_gives_lower_case_ascii_words_joined_by_hyphens(name: str, slug: str) -> None:
    assert slug_for(name) == slug


def test_slug_for_cuts_long_names_at_a_hyphen() -> None:
    slug = slug_for("Quartier " * 20)
    assert len(slug) <= 60 and not slug.endswith("-")
    assert slug == "-".join(["quartier"] * 6)


def test_set_slug_normalises_and_stores(session: Session) -> None:
    hood = _hood(session, 1)
    assert set_slug(session, hood, "  Kervenanec-Lorient ") == "kervenanec-lorient"
    assert hood.slug == "kervenanec-lorient"
    assert set_slug(session, hood, "kervenanec-lorient") == "kervenanec-lorient"  # its own: fine


@pytest.mark.parametrize(
    "slug",
    ["ab", "a" * 61, "ker vena", "kervénanec", "-ker", "ker-", "ker--vena", "ker_vena", "", "a/b"],
)
def test_set_slug_refuses_malformed_addresses(session: Session, slug: str) -> None:
    hood = _hood(session, 1)
    with pytest.raises(ValidationError) as refused:
        set_slug(session, hood, slug)
    assert "de 3 à 60 caractères" in refused.value.localized("fr")
    assert hood.slug is None


@pytest.mark.parametrize("slug", sorted(RESERVED_SLUGS - {"q"}))
def test_set_slug_refuses_reserved_addresses(session: Session, slug: str) -> None:
    with pytest.raises(ValidationError) as refused:
        set_slug(session, _hood(session, 1), slug)
    assert "réservée" in refused.value.localized("fr")


def test_an_address_belongs_to_one_neighbourhood(session: Session) -> None:
    set_slug(session, _hood(session, 1), "kervenanec")
    with pytest.raises(ConflictError) as refused:
        set_slug(session, _hood(session, 2), "Kervenanec")
    assert "déjà prise" in refused.value.localized("fr")
    assert _hood(session, 2).slug is None


def test_public_hood_reads_published_portals_only(session: Session) -> None:
    hood = _hood(session, 1)
    with pytest.raises(NotFoundError):
        public_hood(session, "kervenanec")  # no such address
    set_slug(session, hood, "kervenanec")
    with pytest.raises(NotFoundError) as unpublished:
        public_hood(session, "kervenanec")
    with pytest.raises(NotFoundError) as unknown:
        public_hood(session, "ailleurs")
    # the same answer for an unpublished portal and for no portal at all
    assert str(unpublished.value).replace("kervenanec", "X") == str(unknown.value).replace(
        "ailleurs", "X"
    )
    hood.published = True
    session.flush()
    assert public_hood(session, "Kervenanec").id == hood.id


# --------------------------------------------------------------------------------------------------
# phases


def test_the_six_phases_default_to_planned_in_the_methods_order(session: Session) -> None:
    views = phases_of(session, 1)
    assert [v.key for v in views] == list(PHASES) and len(PHASES) == 6
    assert all((v.state, v.starts_on, v.ends_on, v.place, v.note) == ("planned", None, None, "", "")
               for v in views)  # fmt: skip
    assert views[1].label("fr") == "Forum : exposition et vote"
    assert views[0].state_label("fr") == "à venir"
    for lang in ("fr", "en"):
        assert all(PHASE_LABELS[k].render(lang) for k in PHASES)
        assert all(PHASE_STATE_LABELS[s].render(lang) for s in PHASE_STATES)
    assert views[0].state_label("en") != "à venir"


def test_set_phase_records_and_updates_one_row_per_phase(session: Session) -> None:
    set_phase(session, 1, "forum", state="current", starts_on=date(2027, 3, 1), place=" Salle ")
    view = set_phase(
        session,
        1,
        "forum",
        state="done",
        starts_on=date(2027, 3, 1),
        ends_on=date(2027, 3, 1),  # one day: the same start and end
        note="a\r\nb",
    )
    assert (view.state, view.ends_on, view.place, view.note) == (
        "done",
        date(2027, 3, 1),
        "",
        "a\nb",
    )
    assert phases_of(session, 1)[1] == view
    assert phases_of(session, 2)[1].state == "planned"  # the other neighbourhood's own phases
    rows = session.query(store.Phase).filter_by(neighbourhood_id=1, key="forum").count()
    assert rows == 1


@pytest.mark.parametrize(
    ("key", "fields", "words"),
    [
        ("atelier", {"state": "current"}, "Phase inconnue"),
        ("forum", {"state": "fini"}, "État inconnu"),
        (
            "forum",
            {"state": "current", "starts_on": date(2027, 3, 2), "ends_on": date(2027, 3, 1)},
            "précède son début",
        ),
        ("forum", {"state": "current", "place": "x" * 301}, "Le lieu dépasse"),
        ("forum", {"state": "current", "note": "x" * (MARKDOWN_MAX_CHARS + 1)}, "Le texte dépasse"),
    ],
)
def test_set_phase_refuses_what_is_wrong_and_keeps_nothing(
    session: Session, key: str, fields: dict[str, object], words: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        set_phase(session, 1, key, **fields)  # type: ignore[arg-type]
    assert words in refused.value.localized("fr")
    assert session.query(store.Phase).count() == 0


# --------------------------------------------------------------------------------------------------
# markdown_html


def test_markdown_keeps_script_tags_as_text() -> None:
    html = markdown_html("<script>alert(1)</script>\n\n<img src=x onerror=alert(1)> *ok*")
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<em>ok</em>" in html


def test_markdown_braces_are_not_template_syntax() -> None:
    html = markdown_html("{{ 7*7 }} {% if 1 %}x{% endif %} {# c #}\n\n`{{ code }}`")
    assert "{" not in html and "}" not in html
    assert "&#123;&#123; 7*7 &#125;&#125;" in html
    rendered = Template(html).render()  # a second rendering as a template finds no tag
    assert "49" not in rendered and "&#123;&#123; 7*7 &#125;&#125;" in rendered


@pytest.mark.parametrize(
    "text",
    [
        "[clic](javascript:alert(1))",
        "[clic](JaVaScRiPt:alert(1))",
        "<javascript:alert(1)>",
        "[clic](data:text/html;base64,PHNjcmlwdD4=)",
        "[clic](vbscript:msgbox(1))",
        "![x](javascript:alert(1))",
    ],
)
def test_markdown_links_to_scripts_are_dropped(text: str) -> None:
    html = markdown_html(text)
    assert 'href="javascript' not in html.lower() and "<a" not in html
    assert "src=" not in html and "data:" not in html.split("<a", 1)[-1].split(">")[0]


def test_markdown_web_links_are_kept_with_a_safe_rel() -> None:
    html = markdown_html("[le réseau](https://example.org/qet) et <mailto:equipe@example.org>")
    assert (
        '<a href="https://example.org/qet" rel="noopener noreferrer nofollow">le réseau</a>' in html
    )
    assert 'href="mailto:equipe@example.org"' in html


def test_markdown_headings_move_one_level_down() -> None:
    html = markdown_html("# Un\n\n## Deux\n\n### Trois\n\n###### Six")
    assert "<h2>Un</h2>" in html and "<h3>Deux</h3>" in html and "<h4>Trois</h4>" in html
    assert "<h1" not in html and "<h7" not in html and "<h6>Six</h6>" in html  # at most h6


def test_markdown_tables_and_lists_are_kept() -> None:
    html = markdown_html(
        "| lieu | jour |\n|:---|---:|\n| école | samedi |\n\n- un\n- deux\n\n3. trois"
    )
    assert "<table>" in html and "<th" in html and "<td" in html and "école" in html
    assert "<ul>" in html and '<ol start="3">' in html


def test_markdown_over_long_text_is_cut() -> None:
    html = markdown_html("a" * (MARKDOWN_MAX_CHARS + 500) + "FIN")
    assert "FIN" not in html and html.count("a") >= MARKDOWN_MAX_CHARS


def test_markdown_of_nothing_is_empty() -> None:
    assert markdown_html(None) == "" and markdown_html("") == ""


def test_markdown_headings_sit_under_the_page_heading() -> None:
    from qet_geo.escaping import markdown_html

    html = markdown_html("# Un\n\n## Deux\n\n###### Six", top=4)
    assert "<h4>Un</h4>" in html and "<h5>Deux</h5>" in html and "<h6>Six</h6>" in html
    assert "<h1>" not in html and "<h2>" not in html and "<h3>" not in html
