"""The forum exhibition: a self-contained HTML report of a neighbourhood diagnostic.

Everything is inline (styles, SVG charts); maps are separate offline HTML files embedded with
``<iframe>`` from the same folder, so the report opens from a USB stick with no network. Text is
French by default (``lang="en"`` for English). Only protected aggregates reach this module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from qet_geo.constraints.indicators import (
    INDICATORS,
    SCORE,
    effect_sentence,
    fit_in_words,
    get_figure,
)
from qet_geo.escaping import escape_html as _e
from qet_geo.escaping import url_path
from qet_geo.exhibition._tables import (
    ConstraintRow,
    MarginRow,
    ModelRow,
    ProfileRow,
    UsageRow,
    VoteRow,
)
from qet_geo.i18n import AND, LANGS, Msg, day, join, msg, number

__all__ = ["ReportContent", "render_report"]

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#222;
background:#fafaf7;line-height:1.45}
header{background:#1f4e3d;color:#fff;padding:1.5rem 2rem}
header h1{margin:0 0 .3rem;font-size:1.8rem}
main{max-width:1100px;margin:0 auto;padding:1rem 2rem 3rem}
section{background:#fff;border-radius:8px;padding:1rem 1.5rem;margin:1.2rem 0;
box-shadow:0 1px 3px rgba(0,0,0,.08)}
h2{color:#1f4e3d;border-bottom:2px solid #e3ece6;padding-bottom:.3rem}
table{border-collapse:collapse;width:100%;font-size:.92rem}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #eee;vertical-align:top}
th{background:#f2f5f3}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.banner{background:#fff3cd;border:1px solid #e0c36a;padding:.6rem 1rem;border-radius:6px;
margin-top:1rem;color:#5c4500}
.kpis{display:flex;flex-wrap:wrap;gap:1rem}
.kpi{flex:1 1 180px;background:#f2f5f3;border-radius:8px;padding:.8rem 1rem}
.kpi b{display:block;font-size:1.6rem;color:#1f4e3d}
iframe{width:100%;height:520px;border:1px solid #ddd;border-radius:6px}
.note{color:#666;font-size:.85rem}
.kpi small{display:block;color:#555;font-size:.8rem;margin-top:.3rem}
details#method{margin-top:1.2rem;border-top:1px solid #e3ece6;padding-top:.6rem}
details#method summary{cursor:pointer;font-weight:600;color:#1f4e3d}
dt{font-weight:600;margin-top:.5rem}dd{margin:0 0 0 1rem}
ul.effects li{margin:.3rem 0}
footer{color:#777;font-size:.8rem;text-align:center;padding:1rem}
ol.vote li{margin:.4rem 0}
"""

#: The report's words, written once in French (English from the catalogue). The figures' own
#: labels and sentences come from the registry (:data:`~qet_geo.constraints.indicators.FIGURES`).
_TEXT: dict[str, Msg] = {
    "title": msg("Diagnostic du quartier"),
    "synthetic": msg(
        "Réponses SYNTHÉTIQUES (démonstration) : ces chiffres ne sont pas un résultat d'enquête. Les réponses ont été générées sur les bâtiments réels, étiquetées SYN-."
    ),
    "key": msg("Chiffres clés"),
    "usages": msg("Empreinte par usage"),
    "neighbourhood": msg("Quartier"),
    "average": msg("Moyenne française"),
    "profiles": msg("Profils d'usages"),
    "profile": msg("Profil"),
    "description": msg("Description"),
    "how_to_read": msg("Comment lire ce tableau"),
    "constraints": msg("Contraintes bâties : à combien de minutes à pied ?"),
    "category": msg("Équipement"),
    "links": msg("Où les contraintes rencontrent les usages"),
    "usage": msg("Usage"),
    "indicator": msg("Contrainte"),
    "margins": msg("Marges de manœuvre"),
    "scenario": msg("Si…"),
    "vote": msg("Thèmes à mettre au vote, par potentiel de réduction"),
    "potential": msg("kgCO2e/pers./an"),
    "maps": msg("Cartes"),
    "route": msg("Visite du quartier"),
    "stop": msg("Étape"),
    "reason": msg("Pourquoi"),
    "leg": msg("Trajet"),
    "files": msg("Fichiers"),
    "association": msg(
        "Ce sont des associations, pas des causes : les habitants choisissent aussi où ils vivent."
    ),
    "no_link_figure": msg(
        "Aucun lien n'a pu être chiffré : trop peu de réponses, ou des contraintes trop "
        "semblables d'un logement à l'autre."
    ),
    "method": msg("Méthode : les chiffres des liens et des marges"),
    "method_terms": msg("Les mots de la méthode"),
    "method_links": msg("Les liens, chiffre par chiffre"),
    "method_margins": msg("Les marges de manœuvre avec leur intervalle"),
}


@dataclass
class ReportContent:
    """Everything the report shows; every table is already a protected aggregate.

    The tables are the diagnostic's (:mod:`qet_geo.exhibition._tables`), row by row.
    """

    name: str
    synthetic: bool
    n_answers: int
    homes: int
    score_15min: float
    usage_rows: list[UsageRow]
    profile_rows: list[ProfileRow]
    constraint_rows: list[ConstraintRow]
    model_rows: list[ModelRow]
    margin_rows: list[MarginRow]
    vote_rows: list[VoteRow]
    maps: list[tuple[str, str]] = field(default_factory=list)  # (title, relative file)
    route_rows: list[dict[str, Any]] = field(default_factory=list)
    route_summary: str = ""
    files: list[tuple[str, str]] = field(default_factory=list)  # (label, relative file)
    date: str = ""  # ISO day, shown in words
    #: The data the diagnostic used, each with its credit and licence (:data:`SOURCES`).
    sources: list[str] = field(default_factory=lambda: ["osm"])
    #: Scenarios of the margins left out, each with why, in words (the method section says so).
    margins_left_out: list[str] = field(default_factory=list)
    #: Homes whose 15-minute walk reaches the extract's edge (their figures may be cut off).
    homes_at_edge: int = 0
    #: Homes too far from any street joined to the network: they have no figures.
    homes_off_network: int = 0


def _coverage_notes(content: ReportContent, lang: str) -> str:
    """What the walking figures may miss: homes at the extract's edge, homes off the network."""
    notes = []
    if content.homes_at_edge and content.homes:
        notes.append(
            msg(
                "{n} logements sur {homes} ({share}) atteignent le bord de l'extrait "
                "OpenStreetMap en moins de 15 minutes à pied : pour eux, les équipements à "
                "15 minutes peuvent être sous-comptés, car la carte s'arrête là. Un extrait plus "
                "large que le quartier lève cette limite.",
                n=number(content.homes_at_edge, decimals=0),
                homes=number(content.homes, decimals=0),
                share=_pct(100 * content.homes_at_edge / content.homes, 0, lang),
            )
        )
    if content.homes_off_network:
        notes.append(
            msg(
                "{n} logements sont trop loin d'une rue reliée au reste du réseau (rue isolée, "
                "extrait coupé) : ils n'ont pas de chiffres d'accès et ne comptent pas dans "
                "les tableaux.",
                n=number(content.homes_off_network, decimals=0),
            )
        )
    return "".join(f"<p class='note'>{_e(n.render(lang))}</p>" for n in notes)


#: The credit of each kind of data a diagnostic may use; the footer names only those used.
SOURCES: dict[str, Msg] = {
    "osm": msg("© contributeurs OpenStreetMap (ODbL)"),
    "census": msg("INSEE, recensement et carroyage (Licence Ouverte)"),
    "dem": msg("modèle numérique de terrain"),
    "gtfs": msg("horaires de transport (GTFS)"),
    "survey": msg("réponses aux enquêtes du quartier"),
    "synthetic": msg("réponses SYNTHÉTIQUES générées pour la démonstration"),
}


def _saving(row: MarginRow, lang: str) -> str:
    """A margin's saving for residents: its figure and, in words, how sure it is.

    A saving that is not one says so ("aucune économie estimée"); one whose interval reaches
    zero is said uncertain; the interval itself is in the method section (:func:`_interval`).
    """
    saving, low, high = row["saving"], row["low"], row["high"]
    if saving is None or saving != saving:
        return "–"
    if saving <= 0:
        return _e(msg("aucune économie estimée").render(lang))
    if low is not None and low == low and low > 0 and high is not None and high == high:
        words = msg(
            "{saving} (entre {low} et {high})",
            saving=_num(saving, 1, lang),
            low=_num(low, 1, lang),
            high=_num(high, 1, lang),
        )
    else:
        words = msg("{saving} (incertaine : peut-être aucune)", saving=_num(saving, 1, lang))
    return _e(words.render(lang))


def _interval(
    value: float | None, low: float | None, high: float | None, digits: int, lang: str
) -> str:
    """A figure with its interval, for the method section: ``1,97 [1,49 ; 2,72]``."""
    return msg(
        "{value} [{low} ; {high}]",
        value=_num(value, digits, lang),
        low=_num(low, digits, lang),
        high=_num(high, digits, lang),
    ).render(lang)


def _num(value: float | None, digits: int = 0, lang: str = "fr") -> str:
    if value is None or value != value:  # NaN
        return "–"
    # rounded first, as the format specification did, then written the reader's way
    return number(round(value, digits), decimals=digits).render(lang)


def _pct(value: float | None, digits: int, lang: str) -> str:
    """A percentage kept with its number: ``97 %`` (no-break space) in French, ``97%`` in English."""
    text = _num(value, digits, lang)
    # i18n: a percentage; French keeps a no-break space before %, English none
    return text if text == "–" else msg("{value}\u00a0%", value=text).render(lang)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _label(name: str, lang: str) -> str:
    """The label of a figure or an indicator of the registry, capitalised, for a header."""
    entry = INDICATORS.get(name)
    return _cap((entry.label if entry is not None else get_figure(name).label).render(lang))


def _words(name: str, lang: str) -> str:
    """The label of a figure or an indicator as it follows its value ("400 réponses")."""
    entry = INDICATORS.get(name)
    return (entry.label if entry is not None else get_figure(name).label).render(lang)


def _sentence(name: str, lang: str) -> str:
    entry = INDICATORS.get(name)
    return (entry.sentence if entry is not None else get_figure(name).sentence).render(lang)


def _how_to_read(names: Sequence[str], t: Mapping[str, str], lang: str) -> str:
    """A table's legend: each column's label and its plain meaning, from the registry."""
    items = "".join(
        "<li>"
        + _e(
            msg("{label} : {sentence}", label=_label(n, lang), sentence=_sentence(n, lang)).render(
                lang
            )
        )
        + "</li>"
        for n in names
    )
    return f"<div class='note'>{_e(t['how_to_read'])}<ul>{items}</ul></div>"


def _profile_name(key: str, lang: str) -> str:
    """A profile as residents see it, as on the map: "Profil 1"; pooled ones "Profils 4, 6"."""
    parts = [p for p in str(key).split("+") if p]
    if parts and all(p.lstrip("-").isdigit() for p in parts):
        numbers = [number(int(p) + 1) for p in parts]
        if len(numbers) == 1:
            return msg("Profil {n}", n=numbers[0]).render(lang)
        return msg("Profils {numbers}", numbers=join(numbers, AND)).render(lang)
    return str(key)


def _day(value: str, lang: str) -> str:
    """The report's date in words ("7 décembre 2026"); a text that is no date as it is."""
    try:
        return day(value).render(lang) if value else ""
    except ValueError:
        return value


def _bars(rows: Sequence[Mapping[str, Any]], t: Mapping[str, str], lang: str) -> str:
    """Horizontal paired bars (neighbourhood vs French average), inline SVG."""
    width, label_w, row_h = 760, 190, 34
    top = max([float(r["neighbourhood"] or 0) for r in rows] + [float(r["france"]) for r in rows])
    scale = (width - label_w - 80) / max(top, 1.0)
    height = row_h * len(rows) + 30
    parts = [f'<svg viewBox="0 0 {width} {height}" width="100%" role="img">']
    for i, r in enumerate(rows):
        y = 10 + i * row_h
        parts.append(f'<text x="0" y="{y + 16}" font-size="13">{_e(r["label"])}</text>')
        for j, (key, colour) in enumerate((("neighbourhood", "#1f4e3d"), ("france", "#b9c7bf"))):
            value = float(r[key] or 0)
            w = value * scale
            yy = y + j * 13
            parts.append(
                f'<rect x="{label_w}" y="{yy}" width="{w:.1f}" height="11" fill="{colour}"/>'
                f'<text x="{label_w + w + 4:.1f}" y="{yy + 10}" font-size="11">'
                f"{_num(value, 0, lang)}</text>"
            )
    legend_y = height - 8
    parts.append(
        f'<rect x="{label_w}" y="{legend_y - 9}" width="10" height="10" fill="#1f4e3d"/>'
        f'<text x="{label_w + 14}" y="{legend_y}" font-size="12">{_e(t["neighbourhood"])}</text>'
        f'<rect x="{label_w + 140}" y="{legend_y - 9}" width="10" height="10" fill="#b9c7bf"/>'
        f'<text x="{label_w + 154}" y="{legend_y}" font-size="12">{_e(t["average"])}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _kpi(value: str, name: str, lang: str) -> str:
    return (
        f"<div class='kpi'><b>{value}</b>{_e(_words(name, lang))}"
        f"<small>{_e(_sentence(name, lang))}</small></div>"
    )


def _links(rows: Sequence[ModelRow], lang: str) -> str:
    """The links for residents: per usage, each constraint's effect said in words."""
    by_usage: dict[str, list[ModelRow]] = {}
    for r in rows:
        by_usage.setdefault(r["usage"], []).append(r)
    out: list[str] = []
    for usage, effects in by_usage.items():
        answer = effects[0]["answer"]
        title = msg("{usage} : qui répond « {answer} » ?", usage=usage, answer=answer)
        items = "".join(
            "<li>"
            + _e(
                _cap(
                    effect_sentence(
                        r["indicator"],
                        _nan(r["odds_ratio"]),
                        _nan(r["low"]),
                        _nan(r["high"]),
                        answer=answer,
                    ).render(lang)
                )
            )
            + "</li>"
            for r in effects
        )
        fit = fit_in_words(effects[0]["auc"])
        summary = ""
        if fit is not None:
            together = msg(
                "Ensemble, ces contraintes du logement distinguent {how} ceux qui répondent "
                "« {answer} » des autres.",
                how=fit,
                answer=answer,
            )
            summary = f"<p>{_e(together.render(lang))}</p>"
        out.append(f"<h3>{_e(title.render(lang))}</h3><ul class='effects'>{items}</ul>{summary}")
    return "".join(out)


def _nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def _method(content: ReportContent, t: Mapping[str, str], lang: str) -> str:
    """The foldable method section: the technical figures, each term explained."""
    rows = content.model_rows
    parts: list[str] = [
        f"<details id='method'><summary>{_e(t['method'])}</summary>",
    ]
    if rows:
        n_bootstrap = max((r["n_bootstrap"] or 0) for r in rows)
        n_splits = max((r["n_splits"] or 0) for r in rows)
        parts.append(
            "<p>"
            + _e(
                msg(
                    "Pour chaque usage, une régression logistique relie la réponse la plus "
                    "émettrice aux contraintes bâties du logement du répondant. Les intervalles "
                    "viennent de {n_bootstrap} tirages bootstrap des logements ; l'AUC est "
                    "validée sur {n_splits} parts des réponses (validation croisée).",
                    n_bootstrap=number(n_bootstrap),
                    n_splits=number(n_splits),
                ).render(lang)
            )
            + "</p>"
        )
    terms = ("model", "odds_ratio", "interval", "auc", "n_model", "n_bootstrap")
    glossary = "".join(
        f"<dt>{_e(_label(n, lang))}</dt><dd>{_e(_sentence(n, lang))}</dd>" for n in terms
    )
    parts.append(f"<h3>{_e(t['method_terms'])}</h3><dl>{glossary}</dl>")
    if rows:
        table = "".join(
            f"<tr><td>{_e(r['usage'])}</td><td>{_e(_label(r['indicator'], lang))}</td>"
            f"<td class='num'>{_interval(r['odds_ratio'], r['low'], r['high'], 2, lang)} "
            f"{_e(r['unit'])}</td><td class='num'>{_num(r['auc'], 2, lang)}</td>"
            f"<td class='num'>{_num(r['n'], 0, lang)}</td></tr>"
            for r in rows
        )
        ci = get_figure("interval").label.render(lang).split(" (")[0]
        parts.append(
            f"<h3>{_e(t['method_links'])}</h3><table><tr><th>{_e(t['usage'])}</th>"
            f"<th>{_e(t['indicator'])}</th>"
            f"<th class='num'>{_e(_label('odds_ratio', lang))} [{_e(ci)}]</th>"
            f"<th class='num'>{_e(_label('auc', lang))}</th>"
            f"<th class='num'>{_e(_label('n_model', lang))}</th></tr>{table}</table>"
        )
    if content.margin_rows:
        ci = get_figure("interval").label.render(lang).split(" (")[0]
        table = "".join(
            f"<tr><td>{_e(r['label'])}</td>"
            f"<td class='num'>{_interval(r['saving'], r['low'], r['high'], 1, lang)}</td></tr>"
            for r in content.margin_rows
        )
        parts.append(
            f"<h3>{_e(t['method_margins'])}</h3><table><tr><th>{_e(t['scenario'])}</th>"
            f"<th class='num'>{_e(_label('saving', lang))} [{_e(ci)}]</th></tr>{table}</table>"
        )
    for left in content.margins_left_out:
        parts.append(f"<p class='note'>{_e(left)}</p>")
    parts.append("</details>")
    return "".join(parts)


def _maps_note(content: ReportContent, lang: str) -> str:
    """Say that the maps of a large area show 200 m cells, and why (maps._cells)."""
    from maps._cells import AGGREGATE_ABOVE_HOMES

    if content.homes <= AGGREGATE_ABOVE_HOMES:
        return ""
    note = msg(
        "Le quartier compte plus de {threshold} logements : les cartes des contraintes bâties "
        "montrent des carreaux de 200 m (la moyenne de leurs logements ; moins de 11 logements, "
        "carreaux regroupés) sur un fond sans les bâtiments, pour que chaque page reste légère "
        "à ouvrir.",
        threshold=number(AGGREGATE_ABOVE_HOMES, decimals=0),
    )
    return f"<p class='note'>{_e(note.render(lang))}</p>"


def render_report(content: ReportContent, *, lang: str = "fr") -> str:
    """Return the report as one self-contained HTML page.

    Every figure is named by the registry (:data:`~qet_geo.constraints.indicators.INDICATORS`
    and :data:`~qet_geo.constraints.indicators.FIGURES`): its label with its unit and its plain
    meaning. The links are said in words for residents; their odds ratios, AUC, intervals and
    bootstrap counts are in the foldable "Méthode" section, each term explained there.
    """
    if lang not in LANGS:  # also the page's lang attribute: anything but French is English
        lang = "en"
    t = {key: text.render(lang) for key, text in _TEXT.items()}
    total = sum(float(r["neighbourhood"] or 0) for r in content.usage_rows) / 1000
    france = sum(float(r["france"]) for r in content.usage_rows) / 1000
    out: list[str] = [
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(t['title'])} – {_e(content.name)}</title><style>{_CSS}</style></head><body>",
        f"<header><h1>{_e(t['title'])} – {_e(content.name)}</h1>"
        f"<div>{_e(_day(content.date, lang))}</div></header><main>",
    ]
    if content.synthetic:
        out.append(f'<div class="banner" id="synthetic-banner">{_e(t["synthetic"])}</div>')
    out.append(
        f"<section id='key'><h2>{_e(t['key'])}</h2><div class='kpis'>"
        + _kpi(_num(content.n_answers, 0, lang), "answers", lang)
        + _kpi(_num(total, 1, lang), "footprint_t", lang)
        + _kpi(_num(france, 1, lang), "france_t", lang)
        + _kpi(_num(content.homes, 0, lang), "homes", lang)
        + _kpi(_pct(100 * content.score_15min, 0, lang), SCORE, lang)
        + "</div></section>"
    )
    out.append(
        f"<section id='usages'><h2>{_e(t['usages'])}</h2>{_bars(content.usage_rows, t, lang)}"
        f"{_how_to_read(('neighbourhood', 'france'), t, lang)}</section>"
    )
    # themes to vote on
    items = "".join(
        f"<li><b>{_e(r['theme'])}</b> — {_num(r['potential'], 0, lang)} {_e(t['potential'])}"
        + (
            _e(
                msg(
                    " (sur {footprint} d'empreinte, dont {built} en levant une contrainte bâtie)",
                    footprint=_num(r["footprint"], 0, lang),
                    built=_num(r.get("built", 0.0), 0, lang),
                ).render(lang)
            )
            if "footprint" in r
            else ""
        )
        + "</li>"
        for r in content.vote_rows
    )
    out.append(
        f"<section id='vote'><h2>{_e(t['vote'])}</h2><ol class='vote'>{items}</ol>"
        f"{_how_to_read(('potential', 'footprint', 'built'), t, lang)}</section>"
    )
    # profiles
    rows = "".join(
        f"<tr><td>{_e(_profile_name(r['profile'], lang))}</td>"
        f"<td class='num'>{_pct(r['share_pct'], 1, lang)}</td>"
        f"<td class='num'>{_num(r['n'], 0, lang)}</td><td>{_e(r['description'])}</td>"
        f"<td class='num'>{_num(r['mean_kg'], 0, lang)}</td></tr>"
        for r in content.profile_rows
    )
    out.append(
        f"<section id='profiles'><h2>{_e(t['profiles'])}</h2><table><tr>"
        f"<th>{_e(t['profile'])}</th><th class='num'>{_e(_label('share_pct', lang))}</th>"
        f"<th class='num'>{_e(_label('n', lang))}</th><th>{_e(t['description'])}</th>"
        f"<th class='num'>{_e(_label('mean_kg', lang))}</th></tr>{rows}</table>"
        f"{_how_to_read(('share_pct', 'n', 'mean_kg'), t, lang)}</section>"
    )
    # constraints
    rows = "".join(
        f"<tr><td>{_e(r['label'])}</td><td class='num'>{_num(r['median_min'], 1, lang)}</td>"
        f"<td class='num'>{_pct(100 * r['share_within_15'], 0, lang)}</td></tr>"
        for r in content.constraint_rows
    )
    out.append(
        f"<section id='constraints'><h2>{_e(t['constraints'])}</h2><table><tr>"
        f"<th>{_e(t['category'])}</th><th class='num'>{_e(_label('median_min', lang))}</th>"
        f"<th class='num'>{_e(_label('share_within_15', lang))}</th></tr>{rows}</table>"
        f"{_how_to_read(('median_min', 'share_within_15'), t, lang)}"
        f"{_coverage_notes(content, lang)}</section>"
    )
    # maps
    if content.maps:
        frames = "".join(
            f'<h3>{_e(title)}</h3><iframe src="{url_path(src)}" title="{_e(title)}" loading="lazy">'
            "</iframe>"
            for title, src in content.maps
        )
        out.append(
            f"<section id='maps'><h2>{_e(t['maps'])}</h2>{_maps_note(content, lang)}{frames}"
            "</section>"
        )
    # links, in words; margins; the method
    margins = "".join(
        f"<tr><td>{_e(r['label'])}</td><td class='num'>{_saving(r, lang)}</td>"
        f"<td class='num'>{_pct(100 * (r['share_homes'] or 0), 0, lang)}</td></tr>"
        for r in content.margin_rows
    )
    links = _links(content.model_rows, lang) or f"<p>{_e(t['no_link_figure'])}</p>"
    out.append(
        f"<section id='links'><h2>{_e(t['links'])}</h2><p class='note'>{_e(t['association'])}</p>"
        f"{links}<h3>{_e(t['margins'])}</h3><table><tr><th>{_e(t['scenario'])}</th>"
        f"<th class='num'>{_e(_label('saving', lang))}</th>"
        f"<th class='num'>{_e(_label('share_homes', lang))}</th></tr>{margins}</table>"
        f"{_how_to_read(('saving', 'share_homes'), t, lang)}"
        f"{_method(content, t, lang)}</section>"
    )
    if content.route_rows:
        rows = "".join(
            f"<tr><td class='num'>{_e(r['order'])}</td><td>{_e(r['name'])}</td>"
            f"<td>{_e(r['reason'])}</td><td class='num'>{_e(r['leg'])}</td></tr>"
            for r in content.route_rows
        )
        out.append(
            f"<section id='route'><h2>{_e(t['route'])}</h2><p>{_e(content.route_summary)}</p>"
            f"<table><tr><th class='num'>{_e(t['stop'])}</th><th></th><th>{_e(t['reason'])}</th>"
            f"<th class='num'>{_e(t['leg'])}</th></tr>{rows}</table></section>"
        )
    if content.files:
        links = "".join(
            f'<li><a href="{url_path(src)}">{_e(label)}</a></li>' for label, src in content.files
        )
        out.append(f"<section id='files'><h2>{_e(t['files'])}</h2><ul>{links}</ul></section>")
    footer = msg(
        "Quartiers en Transitions · qet-geo · données : {sources}",
        sources=join([SOURCES[s] for s in content.sources if s in SOURCES], ", "),
    )
    out.append(f"</main><footer>{_e(footer.render(lang))}</footer></body></html>")
    return "".join(out)
