"""The forum exhibition: a self-contained HTML report of a neighbourhood diagnostic.

Everything is inline (styles, SVG charts); maps are separate offline HTML files embedded with
``<iframe>`` from the same folder, so the report opens from a USB stick with no network. Text is
French by default (``lang="en"`` for English). Only protected aggregates reach this module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

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
from qet_geo.i18n import LANGS, Msg, join, msg, number

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
footer{color:#777;font-size:.8rem;text-align:center;padding:1rem}
ol.vote li{margin:.4rem 0}
"""

#: The report's words, written once in French (English from the catalogue).
_TEXT: dict[str, Msg] = {
    "title": msg("Diagnostic du quartier"),
    "synthetic": msg(
        "Réponses SYNTHÉTIQUES (démonstration) : ces chiffres ne sont pas un résultat d'enquête. Les réponses ont été générées sur les bâtiments réels, étiquetées SYN-."
    ),
    "key": msg("Chiffres clés"),
    "respondents": msg("réponses"),
    "footprint": msg("tCO2e par personne et par an (6 usages)"),
    "france": msg("moyenne française sur les mêmes usages"),
    "homes": msg("logements mesurés"),
    "score": msg("score « ville du quart d'heure » (pondéré)"),
    "usages": msg("Empreinte par usage"),
    "usages_note": msg(
        "kgCO2e par personne et par an : le quartier (moyenne pondérée des réponses) et la moyenne française (NosGestesClimat, situation par défaut)."
    ),
    "neighbourhood": msg("Quartier"),
    "average": msg("Moyenne française"),
    "profiles": msg("Profils d'usages"),
    "profile": msg("Profil"),
    "share": msg("Part"),
    "n": msg("Réponses"),
    "description": msg("Description"),
    "mean_fp": msg("Empreinte moyenne (kgCO2e/an)"),
    "constraints": msg("Contraintes bâties : à combien de minutes à pied ?"),
    "category": msg("Équipement"),
    "median_min": msg("Médiane (min)"),
    "within15": msg("Logements à 15 min ou moins"),
    "links": msg("Où les contraintes rencontrent les usages"),
    "usage": msg("Usage"),
    "indicator": msg("Contrainte"),
    "effect": msg("Rapport de cotes [IC 95 %]"),
    "auc": msg("AUC validée (sans contrainte 0,5)"),
    "margins": msg("Marges de manœuvre"),
    "scenario": msg("Si…"),
    "saving": msg("Économie (kgCO2e/pers./an) [IC 95 %]"),
    "homes_changed": msg("Logements concernés"),
    "vote": msg("Thèmes à mettre au vote, par potentiel de réduction"),
    "vote_note": msg(
        "Potentiel : l'économie par personne et par an si chacun passait au niveau le plus "
        "sobre de l'usage (échelle NosGestesClimat) ; il ne dépasse jamais l'empreinte de "
        "l'usage. La part « en levant une contrainte bâtie » est la meilleure marge de "
        "manœuvre de l'usage : elle fait partie du potentiel, elle ne s'y ajoute pas."
    ),
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
    date: str = ""
    #: The data the diagnostic used, each with its credit and licence (:data:`SOURCES`).
    sources: list[str] = field(default_factory=lambda: ["osm"])


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
    """A margin's saving with its interval; a saving that is not one says so in words."""
    saving = row["saving"]
    if saving is not None and saving == saving and saving <= 0:
        return _e(msg("aucune économie estimée").render(lang))
    return f"{_num(saving, 1, lang)} [{_num(row['low'], 1, lang)} ; {_num(row['high'], 1, lang)}]"


def _num(value: float | None, digits: int = 0, lang: str = "fr") -> str:
    if value is None or value != value:  # NaN
        return "–"
    # rounded first, as the format specification did, then written the reader's way
    return number(round(value, digits), decimals=digits).render(lang)


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


def render_report(content: ReportContent, *, lang: str = "fr") -> str:
    """Return the report as one self-contained HTML page."""
    if lang not in LANGS:  # also the page's lang attribute: anything but French is English
        lang = "en"
    t = {key: text.render(lang) for key, text in _TEXT.items()}
    total = sum(float(r["neighbourhood"] or 0) for r in content.usage_rows) / 1000
    france = sum(float(r["france"]) for r in content.usage_rows) / 1000
    out: list[str] = [
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(t['title'])} – {_e(content.name)}</title><style>{_CSS}</style></head><body>",
        f"<header><h1>{_e(t['title'])} – {_e(content.name)}</h1><div>{_e(content.date)}</div>"
        "</header><main>",
    ]
    if content.synthetic:
        out.append(f'<div class="banner" id="synthetic-banner">{_e(t["synthetic"])}</div>')
    out.append(
        f"<section><h2>{_e(t['key'])}</h2><div class='kpis'>"
        f"<div class='kpi'><b>{_num(content.n_answers, 0, lang)}</b>{_e(t['respondents'])}</div>"
        f"<div class='kpi'><b>{_num(total, 1, lang)}</b>{_e(t['footprint'])}</div>"
        f"<div class='kpi'><b>{_num(france, 1, lang)}</b>{_e(t['france'])}</div>"
        f"<div class='kpi'><b>{_num(content.homes, 0, lang)}</b>{_e(t['homes'])}</div>"
        f"<div class='kpi'><b>{_num(100 * content.score_15min, 0, lang)} %</b>"
        f"{_e(t['score'])}</div></div></section>"
    )
    out.append(
        f"<section><h2>{_e(t['usages'])}</h2><p class='note'>{_e(t['usages_note'])}</p>"
        f"{_bars(content.usage_rows, t, lang)}</section>"
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
        f"<section id='vote'><h2>{_e(t['vote'])}</h2><p class='note'>{_e(t['vote_note'])}</p>"
        f"<ol class='vote'>{items}</ol></section>"
    )
    # profiles
    rows = "".join(
        f"<tr><td>{_e(r['profile'])}</td><td class='num'>{_num(r['share_pct'], 1, lang)} %</td>"
        f"<td class='num'>{_e(r['n'])}</td><td>{_e(r['description'])}</td>"
        f"<td class='num'>{_num(r['mean_kg'], 0, lang)}</td></tr>"
        for r in content.profile_rows
    )
    out.append(
        f"<section id='profiles'><h2>{_e(t['profiles'])}</h2><table><tr>"
        f"<th>{_e(t['profile'])}</th><th class='num'>{_e(t['share'])}</th>"
        f"<th class='num'>{_e(t['n'])}</th><th>{_e(t['description'])}</th>"
        f"<th class='num'>{_e(t['mean_fp'])}</th></tr>{rows}</table></section>"
    )
    # constraints
    rows = "".join(
        f"<tr><td>{_e(r['label'])}</td><td class='num'>{_num(r['median_min'], 1, lang)}</td>"
        f"<td class='num'>{_num(100 * r['share_within_15'], 0, lang)} %</td></tr>"
        for r in content.constraint_rows
    )
    out.append(
        f"<section id='constraints'><h2>{_e(t['constraints'])}</h2><table><tr>"
        f"<th>{_e(t['category'])}</th><th class='num'>{_e(t['median_min'])}</th>"
        f"<th class='num'>{_e(t['within15'])}</th></tr>{rows}</table></section>"
    )
    # maps
    if content.maps:
        frames = "".join(
            f'<h3>{_e(title)}</h3><iframe src="{url_path(src)}" title="{_e(title)}" loading="lazy">'
            "</iframe>"
            for title, src in content.maps
        )
        out.append(f"<section id='maps'><h2>{_e(t['maps'])}</h2>{frames}</section>")
    # links
    rows = "".join(
        f"<tr><td>{_e(r['usage'])}</td><td>{_e(r['indicator'])}</td>"
        f"<td class='num'>{_num(r['odds_ratio'], 2, lang)} [{_num(r['low'], 2, lang)} ; "
        f"{_num(r['high'], 2, lang)}] {_e(r['unit'])}</td>"
        f"<td class='num'>{_num(r['auc'], 2, lang)}</td></tr>"
        for r in content.model_rows
    )
    margins = "".join(
        f"<tr><td>{_e(r['label'])}</td><td class='num'>{_saving(r, lang)}</td>"
        f"<td class='num'>{_num(100 * (r['share_homes'] or 0), 0, lang)} %</td></tr>"
        for r in content.margin_rows
    )
    out.append(
        f"<section id='links'><h2>{_e(t['links'])}</h2><p class='note'>{_e(t['association'])}</p>"
        f"<table><tr><th>{_e(t['usage'])}</th><th>{_e(t['indicator'])}</th>"
        f"<th class='num'>{_e(t['effect'])}</th><th class='num'>{_e(t['auc'])}</th></tr>{rows}"
        f"</table><h3>{_e(t['margins'])}</h3><table><tr><th>{_e(t['scenario'])}</th>"
        f"<th class='num'>{_e(t['saving'])}</th><th class='num'>{_e(t['homes_changed'])}</th>"
        f"</tr>{margins}</table></section>"
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
