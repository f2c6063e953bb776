"""Steps 4 and 5 of the journey: analysing a diagnostic, then reviewing and publishing it.

- ``/espace/quartiers/{id}/analyse``: the neighbourhood's diagnostic of the year (its latest
  campaign), one button that starts the analysis the API's ``POST /diagnostics/{id}/run`` starts
  (:func:`api.routers.jobs.start_analysis`: the claim, then the job after the answer, as the API
  does), and its progress: htmx polls the page's fragment every 2 s while
  the job is queued or running; a plain "Actualiser" link does the same without JavaScript.
- ``/espace/quartiers/{id}/resultats``: the exhibition as pages, from the figures the API's
  aggregates serve (:class:`api._aggregates.AggregateCache`: the live preview for a caller with
  write access, and each release), named by the registry (:data:`~qet_geo.constraints.indicators.
  INDICATORS`, :data:`~qet_geo.constraints.indicators.FIGURES`); what the privacy rules withheld
  and why; the "Publier" form, which makes a release through
  :func:`qet_geo.store.releases.create_release` as ``POST /diagnostics/{id}/releases`` does.
  Beside the API's figures, each set shows what ``qet diagnose``'s report shows (in its words:
  :mod:`qet_geo.exhibition.report`): the themes of the vote, the links between built
  constraints and usages said in words, the margins of manoeuvre and the method's figures
  (:func:`links_view`, from the release's stored tables, or those the last analysis computed
  for the preview: :func:`qet_geo.store.releases.preview_extras`), and the other surveys
  (``release_perceived.html``, :func:`qet_geo.store.perceived.perceived_view`).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, cast

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Integer, bindparam, func, select
from sqlalchemy.orm import Session

from api.dependencies import SessionDep, diagnostic_for
from api.errors import PermissionDeniedError
from api.routers.aggregates import reads_live
from api.routers.jobs import job_out, start_analysis
from api.routers.maps import diagnostic_map
from api.web._kit import (
    FormStr,
    Visitor,
    check_csrf,
    forbidden,
    hood_for_page,
    in_page_lang,
    lang_of,
    not_found,
    redirect,
    render,
    signed_in,
)
from qet_geo.constraints.indicators import (
    FIGURES,
    INDICATORS,
    effect_sentence,
    fit_in_words,
    get_figure,
)
from qet_geo.errors import QetGeoError
from qet_geo.i18n import Msg, day, join, msg, number
from qet_geo.privacy import MIN_RESPONDENTS
from qet_geo.store.ingest import FOOTPRINT_SCALE
from qet_geo.store.jobs import (
    ANALYSIS_STEP_LABELS,
    ANALYSIS_STEPS,
)
from qet_geo.store.models import (
    ConflictError,
    Diagnostic,
    Indicator,
    Neighbourhood,
    Profile,
    Release,
)
from qet_geo.store.releases import (
    Figures,
    create_release,
    keep_preview,
    kept_preview,
    preview_version,
)
from qet_geo.surveys.schema import LEVEL_LABELS, USAGE_LABELS, USAGES

if TYPE_CHECKING:
    from qet_geo.exhibition._tables import MarginRow

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


#: The job's statuses (:func:`qet_geo.store.jobs.job_status`) in words.
STATUS_LABELS: dict[str, Msg] = {
    "collecting": msg("Analyse pas encore lancée"),
    "queued": msg("Analyse en attente de démarrage"),
    "running": msg("Analyse en cours"),
    "done": msg("Analyse terminée"),
    "failed": msg("Analyse échouée"),
    "abandoned": msg("Analyse abandonnée"),
}
_ACTIVE = ("queued", "running")


def current_diagnostic(session: Session, hood: Neighbourhood) -> Diagnostic | None:
    """The neighbourhood's diagnostic of the year: its latest campaign (None before the first)."""
    return session.scalars(_CURRENT, {"hood": hood.id}).first()


# the pages' statements, built once (building one costs about as much as running it)
_CURRENT = (
    select(Diagnostic)
    .where(Diagnostic.neighbourhood_id == bindparam("hood", type_=Integer))
    .order_by(Diagnostic.year.desc(), Diagnostic.id.desc())
    .limit(1)
)
_OWN_PROFILES = select(func.count(Profile.id)).where(
    Profile.diagnostic_id == bindparam("diag", type_=Integer), Profile.scope == "diagnostic"
)
_RELEASES = (
    select(Release.id, Release.number, Release.created_at, Release.n_respondents)
    .where(Release.diagnostic_id == bindparam("diag", type_=Integer))
    .order_by(Release.number.desc())
)
_CELLS = select(func.count(func.distinct(Indicator.zone_id))).where(
    Indicator.neighbourhood_id == bindparam("hood", type_=Integer)
)


def _settings(request: Request) -> Any:
    return request.app.state.settings


def _write_access(request: Request, session: Session, visitor: Visitor, diag: Diagnostic) -> None:
    """The API's write check (admin, the neighbourhood's pilot team), else the 403 page."""
    try:
        diagnostic_for(session, visitor.caller, diag.id, access="write")
    except PermissionDeniedError:
        raise forbidden(request, visitor) from None


# --------------------------------------------------------------------------------------------------
# step 4: analysing


@dataclass
class JobView:
    """The analysis of a diagnostic as the page shows it."""

    status: str
    label: str
    percent: int
    step: str | None
    message: str | None
    active: bool


def job_view(request: Request, diag: Diagnostic) -> JobView:
    """The job's state, as the API's ``GET /diagnostics/{id}/job`` gives it, in words."""
    lang = lang_of(request)
    out = job_out(diag, lang, timeout_s=_settings(request).job_timeout_s)
    step = ANALYSIS_STEP_LABELS.get(out.step or "")
    return JobView(
        status=out.status,
        label=STATUS_LABELS.get(out.status, msg("État inconnu")).render(lang),
        percent=100 if out.status == "done" else round(100 * (out.progress or 0.0)),
        step=None if step is None else step.render(lang),
        message=out.message,
        active=out.status in _ACTIVE,
    )


def _analysis_page(
    request: Request,
    session: Session,
    visitor: Visitor,
    hood: Neighbourhood,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    diag = current_diagnostic(session, hood)
    context: dict[str, Any] = {"hood": hood, "diag": diag, "error": error}
    if diag is not None:
        session.refresh(diag)
        context["job"] = job_view(request, diag)
        context["can_run"] = visitor.caller.can_write(hood)
        context["steps"] = [
            ANALYSIS_STEP_LABELS[s].render(lang_of(request)) for s in ANALYSIS_STEPS
        ]
        if context["job"].status == "done":
            context["summary"] = _job_summary(session, diag, lang_of(request))
    fragment = request.headers.get("hx-request") == "true" and diag is not None
    template = "analysis_progress.html" if fragment else "analysis_page.html"
    return render(request, template, context, visitor=visitor, status=status)


def _job_summary(session: Session, diag: Diagnostic, lang: str) -> list[str]:
    """What the finished analysis stored, in sentences."""
    own = int(session.scalar(_OWN_PROFILES, {"diag": diag.id}) or 0)
    cells = int(session.scalar(_CELLS, {"hood": diag.neighbourhood_id}) or 0)
    lines = [
        msg("{n} profils d'usages propres au quartier (11 répondants au moins chacun).", n=own)
        if own
        else msg("Pas de profil propre au quartier : trop peu de réponses complètes."),
        msg("Contraintes bâties calculées pour {n} carreaux de 200 m.", n=cells)
        if cells
        else msg("Pas de contrainte bâtie : le quartier n'a pas d'extrait OSM ou de contour."),
    ]
    if cells:
        lines.append(
            msg(
                "Liens entre contraintes et usages, marges de manœuvre et thèmes du vote "
                "calculés sur les répondants qu'une publication compterait : voyez-les dans les "
                "résultats."
            )
        )
    return [line.render(lang) for line in lines]


@router.get("/espace/quartiers/{hood_id}/analyse", response_class=HTMLResponse)
def analysis_page(request: Request, session: SessionDep, hood_id: str) -> Response:
    """The analysis of the neighbourhood's diagnostic: run it, follow it (fragment for htmx)."""
    visitor = signed_in(request, session)
    hood = hood_for_page(request, session, visitor, hood_id)
    return _analysis_page(request, session, visitor, hood)


@router.post("/espace/quartiers/{hood_id}/analyse", response_class=HTMLResponse)
def run(request: Request, session: SessionDep, hood_id: str, csrf: FormStr = "") -> Response:
    """Start the analysis (admin, the pilot team), as ``POST /diagnostics/{id}/run`` does."""
    visitor = signed_in(request, session)
    check_csrf(request, visitor, csrf)
    hood = hood_for_page(request, session, visitor, hood_id)
    diag = current_diagnostic(session, hood)
    if diag is None:
        return _analysis_page(request, session, visitor, hood, status=409)
    _write_access(request, session, visitor, diag)
    settings = _settings(request)
    try:
        task = start_analysis(request.app.state.engine, diag.id, settings)
    except ConflictError as exc:
        error = exc.localized(lang_of(request))
        return _analysis_page(request, session, visitor, hood, error=error, status=409)
    response = redirect(f"/espace/quartiers/{hood.id}/analyse")
    response.background = task  # after the answer, as the API: the same job, the same limits
    return response


# --------------------------------------------------------------------------------------------------
# step 5: reviewing and publishing


@dataclass
class FigureView:
    """A set of figures (the live preview or a release), ready for the page, in words."""

    title: str
    n_respondents: int
    synthetic: bool
    footprints: list[dict[str, Any]] = field(default_factory=list)
    total: dict[str, Any] | None = None
    #: The footprints' scale, in words (one scale for every figure of the set).
    scale_note: str = ""
    shares: list[dict[str, Any]] = field(default_factory=list)
    reference_described: bool = False
    own_profiles: list[dict[str, Any]] = field(default_factory=list)
    cells: list[dict[str, Any]] = field(default_factory=list)
    cell_columns: list[str] = field(default_factory=list)
    constraints: list[dict[str, Any]] = field(default_factory=list)
    withheld: list[str] = field(default_factory=list)
    release: int | None = None
    released_on: str | None = None
    links: LinksView | None = None
    perceived: dict[str, Any] | None = None
    walking: dict[str, Any] | None = None
    #: The set against the census and its weighted footprints (:func:`census_view`).
    census: dict[str, Any] | None = None
    #: The set's section of the results page (``release_figures.html``), rendered once with
    #: the view when the page keeps it (:func:`_section`).
    html: str = ""


def walking_view(walking: dict[str, Any], lang: str) -> dict[str, Any] | None:
    """The report's "à combien de minutes à pied ?" from :func:`qet_geo.store.releases.
    access_figures`: its rows, columns, legend and notes, and the homes' key figures."""
    from types import SimpleNamespace

    from qet_geo.constraints.indicators import SCORE
    from qet_geo.exhibition import report

    if not walking:
        return None
    lang = "en" if lang == "en" else "fr"
    homes = int(walking.get("homes") or 0)
    counts = SimpleNamespace(
        homes=homes,
        homes_at_edge=int(walking.get("homes_at_edge") or 0),
        homes_off_network=int(walking.get("homes_off_network") or 0),
    )
    return {
        "title": report._TEXT["constraints"].render(lang),
        "category": report._TEXT["category"].render(lang),
        "how_to_read": report._TEXT["how_to_read"].render(lang),
        "median": report._label("median_min", lang),
        "within": report._label("share_within_15", lang),
        "rows": [
            {
                "label": r["label"],
                "median": report._num(r["median_min"], 1, lang),
                "within": report._pct(100 * (r["share_within_15"] or 0), 0, lang),
            }
            for r in walking.get(lang, [])
        ],
        "key": [
            msg("{label} : {sentence}", label=report._label(name, lang), sentence=value).render(
                lang
            )
            for name, value in (
                ("homes", report._num(homes, 0, lang)),
                (SCORE, report._pct(100 * float(walking.get("score_15min") or 0), 0, lang)),
            )
        ],
        "legend": [
            msg(
                "{label} : {sentence}",
                label=report._label(n, lang),
                sentence=report._sentence(n, lang),
            ).render(lang)
            for n in ("median_min", "share_within_15")
        ],
        # the report's notes: HTML whose text the report escaped (qet_geo.escaping.escape_html);
        # the template writes it as it is
        "notes": report._coverage_notes(cast(Any, counts), lang),
    }


@dataclass
class LinksView:
    """The links, margins of manoeuvre and vote themes of a set, as the offline report says them.

    The words are the report's (:mod:`qet_geo.exhibition.report`: its texts and the way it
    writes a saving, an interval, a percentage), the labels and sentences the registry's.
    """

    text: dict[str, str]
    votes: list[dict[str, Any]] = field(default_factory=list)
    vote_legend: list[str] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)
    margins: list[dict[str, Any]] = field(default_factory=list)
    margin_legend: list[str] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)
    method_intro: str | None = None
    glossary: list[dict[str, str]] = field(default_factory=list)
    method_models: list[dict[str, Any]] = field(default_factory=list)
    method_margins: list[dict[str, Any]] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)


def links_view(links: dict[str, Any], lang: str) -> LinksView | None:
    """What the pages show of stored links figures (:func:`qet_geo.store.releases.link_figures`).

    None unless they were computed ("ok"): what was not, and why, is in the withheld list.
    """
    from qet_geo.exhibition import report

    if links.get("status") != "ok":
        return None
    lang = "en" if lang == "en" else "fr"
    tables = links.get(lang) or {}
    text = {key: value.render(lang) for key, value in report._TEXT.items()}
    view = LinksView(text=text)

    def legend(names: tuple[str, ...]) -> list[str]:
        return [
            msg(
                "{label} : {sentence}",
                label=report._label(n, lang),
                sentence=report._sentence(n, lang),
            ).render(lang)
            for n in names
        ]

    for row in tables.get("votes", []):
        view.votes.append(
            {
                "theme": row["theme"],
                "potential": report._num(row["potential"], 0, lang),
                "detail": msg(
                    " (sur {footprint} d'empreinte, dont {built} en levant une contrainte bâtie)",
                    footprint=report._num(row["footprint"], 0, lang),
                    built=report._num(row.get("built", 0.0), 0, lang),
                ).render(lang),
            }
        )
    view.vote_legend = legend(("potential", "footprint", "built"))
    models = list(tables.get("models", []))
    by_usage: dict[str, list[dict[str, Any]]] = {}
    for row in models:
        by_usage.setdefault(row["usage"], []).append(row)
    for usage, effects in by_usage.items():
        answer = effects[0]["answer"]
        fit = fit_in_words(effects[0]["auc"])
        view.groups.append(
            {
                "title": msg(
                    "{usage} : qui répond « {answer} » ?", usage=usage, answer=answer
                ).render(lang),
                "effects": [
                    report._cap(
                        effect_sentence(
                            r["indicator"],
                            report._nan(r["odds_ratio"]),
                            report._nan(r["low"]),
                            report._nan(r["high"]),
                            answer=answer,
                        ).render(lang)
                    )
                    for r in effects
                ],
                "fit": None
                if fit is None
                else msg(
                    "Ensemble, ces contraintes du logement distinguent {how} ceux qui répondent "
                    "« {answer} » des autres.",
                    how=fit,
                    answer=answer,
                ).render(lang),
            }
        )
    for row in tables.get("margins", []):
        typed = cast("MarginRow", row)
        view.margins.append(
            {
                "label": row["label"],
                # the report's own words, already escaped by it
                "saving": report._saving(typed, lang),
                "share": report._pct(100 * (row["share_homes"] or 0), 0, lang),
                "interval": report._interval(row["saving"], row["low"], row["high"], 1, lang),
            }
        )
    view.margin_legend = legend(("saving", "share_homes"))
    ci = get_figure("interval").label.render(lang).split(" (")[0]
    view.columns = {
        "saving": report._label("saving", lang),
        "share_homes": report._label("share_homes", lang),
        "odds_ratio": f"{report._label('odds_ratio', lang)} [{ci}]",
        "saving_interval": f"{report._label('saving', lang)} [{ci}]",
        "auc": report._label("auc", lang),
        "n_model": report._label("n_model", lang),
    }
    if models:
        view.method_intro = msg(
            "Pour chaque usage, une régression logistique relie la réponse la plus "
            "émettrice aux contraintes bâties du logement du répondant. Les intervalles "
            "viennent de {n_bootstrap} tirages bootstrap des logements ; l'AUC est "
            "validée sur {n_splits} parts des réponses (validation croisée).",
            n_bootstrap=number(max((r["n_bootstrap"] or 0) for r in models)),
            n_splits=number(max((r["n_splits"] or 0) for r in models)),
        ).render(lang)
    view.glossary = [
        {"term": report._label(n, lang), "meaning": report._sentence(n, lang)}
        for n in ("model", "odds_ratio", "interval", "auc", "n_model", "n_bootstrap")
    ]
    view.method_models = [
        {
            "usage": r["usage"],
            "indicator": report._label(r["indicator"], lang),
            "odds_ratio": f"{report._interval(r['odds_ratio'], r['low'], r['high'], 2, lang)} "
            f"{r['unit']}",
            "auc": report._num(r["auc"], 2, lang),
            "n": report._num(r["n"], 0, lang),
        }
        for r in models
    ]
    view.left_out = list(tables.get("left_out", []))
    return view


def _links_withheld(links: dict[str, Any], lang: str) -> list[str]:
    """Why a set shows no links, margins of manoeuvre or vote themes, in words."""
    state = links.get("status")
    if state == "no_access":
        line = msg(
            "Liens entre contraintes et usages, marges de manœuvre et thèmes du vote non "
            "calculés : le quartier n'a pas d'extrait OpenStreetMap et de contour analysés. "
            "Déposez-les, puis relancez l'analyse."
        )
    elif state == "stale":
        line = msg(
            "Liens entre contraintes et usages, marges de manœuvre et thèmes du vote de "
            "l'aperçu pas encore calculés pour les réponses actuelles : relancez l'analyse "
            "(une publication les calcule de toute façon)."
        )
    elif state == "withheld":
        reason = links.get("reason") or {}
        return [
            msg(
                "Liens entre contraintes et usages, marges de manœuvre et thèmes du vote "
                "retenus : {reason}",
                reason=str(reason.get(lang) or reason.get("fr") or ""),
            ).render(lang)
        ]
    else:
        return []
    return [line.render(lang)]


def _kg(value: float | None, lang: str) -> str:
    return "–" if value is None else number(value, decimals=0).render(lang)


def _pct(share: float | None, lang: str) -> str:
    return "–" if share is None else number(100 * share, decimals=1).render(lang) + " %"


def _describe(levels: dict[str, float], lang: str) -> str:
    """A profile's centre in words: the answer nearest its centre, per usage."""
    parts: list[Msg | str] = []
    for usage in USAGES:
        if usage not in levels:
            continue
        level = min(3, max(1, round(float(levels[usage]))))
        parts.append(
            msg("{usage} : {level}", usage=USAGE_LABELS[usage], level=LEVEL_LABELS[usage][level])
        )
    return join(parts, "; ").render(lang)


def _reference_descriptions(session: Session, lang: str) -> dict[str, str]:
    """The reference profiles (national) described from their stored centres."""
    rows = session.scalars(
        select(Profile).where(Profile.scope == "national", Profile.diagnostic_id.is_(None))
    ).all()
    return {
        str(p.number): _describe({u: float(v) + 1.0 for u, v in p.centre.items()}, lang)
        for p in rows
    }


def _withheld(figures: Figures, *, live: bool, lang: str) -> list[str]:
    """What the privacy rules (docs/privacy.md) withheld from ``figures``, and why, in words."""
    out: list[Msg] = []
    if figures.n_respondents == 0:
        out.append(
            msg(
                "Rien n'est publié : moins de {n} répondants sont localisés avec des réponses "
                "complètes (règle 2 : aucun chiffre de 1 à 10 répondants, le secret statistique "
                "de l'INSEE).",
                n=MIN_RESPONDENTS,
            )
        )
        return [m.render(lang) for m in out]
    if not figures.footprints:
        out.append(
            msg(
                "Empreintes moyennes retenues : un répondant fait l'essentiel d'un total "
                "(règle 3 : dominance)."
            )
        )
    if not figures.profile_shares:
        out.append(
            msg(
                "Parts des profils retenues : un profil compterait de 1 à 10 répondants, ou "
                "rassemblerait tout le monde (règles 2 et 3)."
            )
        )
    if not live and not figures.own_profiles:
        out.append(
            msg(
                "Profils propres au quartier retenus : il en faut au moins deux de {n} répondants "
                "ou plus, aucun ne rassemblant tout le monde (règles 2 et 3).",
                n=MIN_RESPONDENTS,
            )
        )
    if not figures.features:
        out.append(
            msg(
                "Carreaux de 200 m retenus en entier : même regroupés, ils ne couvrent pas tous "
                "les répondants, et le reste se déduirait par différence avec les totaux "
                "(règle 4 : pas de différence entre zones)."
            )
        )
    else:
        out.append(
            msg(
                "Les carreaux de moins de {n} répondants sont regroupés avec leurs voisins avant "
                "d'être publiés (règles 2 et 4).",
                n=MIN_RESPONDENTS,
            )
        )
    out.append(
        msg(
            "Seuls les répondants localisés dans un carreau avec des réponses complètes comptent ; "
            "une nouvelle publication doit différer de chacune des précédentes de 0 ou d'au moins "
            "{n} répondants (règle 5 : publications numérotées).",
            n=MIN_RESPONDENTS,
        )
    )
    return [m.render(lang) for m in out]


def figure_view(
    session: Session,
    figures: Figures,
    *,
    title: str,
    lang: str,
    live: bool,
    constraints: dict[str, Any],
    own_profiles: list[dict[str, Any]] | None = None,
) -> FigureView:
    """Name every figure of ``figures`` from the registry, so that no column name shows."""
    view = FigureView(title=title, n_respondents=figures.n_respondents, synthetic=figures.synthetic)
    if figures.scale == FOOTPRINT_SCALE:
        from qet_geo.analysis.footprint import french_averages

        french = french_averages()
        view.scale_note = msg(
            "Chaque niveau de réponse est converti en kgCO2e avec l'échelle NosGestesClimat "
            "(le modèle de l'ADEME), la même pour la moyenne française, les liens, les marges de "
            "manœuvre et les thèmes du vote."
        ).render(lang)
    else:  # a release published before migration 0012
        french = {}
        view.scale_note = msg(
            "Publication calculée avec l'ancienne échelle NEAR : ses empreintes ne se comparent "
            "ni à la moyenne française ni aux publications récentes. Publiez à nouveau pour la "
            "recalculer avec l'échelle NosGestesClimat."
        ).render(lang)
    for usage in USAGES:
        if usage in figures.footprints:
            view.footprints.append(
                {
                    "label": USAGE_LABELS[usage].render(lang),
                    "value": _kg(figures.footprints[usage], lang),
                    "france": _kg(french.get(usage), lang),
                }
            )
    if "total" in figures.footprints:
        known = [french[u] for u in USAGES if u in french]
        view.total = {
            "value": _kg(figures.footprints["total"], lang),
            "france": _kg(sum(known) if len(known) == len(USAGES) else None, lang),
        }
    descriptions = _reference_descriptions(session, lang)
    view.reference_described = bool(descriptions)
    for key, share in sorted(figures.profile_shares.items(), key=lambda kv: str(kv[0])):
        name = msg("Profil {n}", n=int(key) + 1).render(lang) if key.isdigit() else key
        view.shares.append(
            {"name": name, "share": _pct(share, lang), "description": descriptions.get(key, "")}
        )
    for p in own_profiles if own_profiles is not None else figures.own_profiles:
        view.own_profiles.append(
            {
                "name": msg("Profil {n}", n=int(p["number"]) + 1).render(lang),
                "share": _pct(p.get("share"), lang),
                "description": _describe(p.get("centre_levels") or {}, lang),
            }
        )
    if figures.features:
        columns = [
            c
            for c in (figures.features[0].get("properties") or {})
            if c == "n_respondents" or c in FIGURES or c.startswith("share_")
        ]
        view.cell_columns = [_column_label(c, lang) for c in columns]
        for i, feature in enumerate(figures.features, start=1):
            props = feature.get("properties") or {}
            values = []
            for c in columns:
                v = props.get(c)
                if v is None:
                    values.append("–")
                elif c == "n_respondents":
                    values.append(str(int(v)))
                else:
                    figure = get_figure(c)
                    shown = number(float(v) * figure.scale, decimals=figure.decimals)
                    values.append(shown.render(lang))
            view.cells.append({"name": msg("Zone {n}", n=i).render(lang), "values": values})
    for name, value in constraints.items():
        indicator = INDICATORS.get(name)
        if indicator is None or value is None:
            continue
        scaled = float(value) * indicator.scale
        view.constraints.append(
            {
                "label": indicator.label.render(lang),
                "sentence": indicator.sentence.render(lang),
                "value": number(scaled, decimals=indicator.decimals).render(lang),
            }
        )
    view.withheld = _withheld(figures, live=live, lang=lang)
    if figures.n_respondents:
        view.links = links_view(figures.links, lang)
        view.withheld[-1:-1] = _links_withheld(figures.links, lang)
    view.perceived = _perceived(figures.other_surveys, lang)
    view.walking = walking_view(figures.access, lang)
    if figures.n_respondents:
        view.census = census_view(figures.census, figures.footprints, live=live, lang=lang)
    return view


#: Why a set is not weighted to the census, by the reason codes of
#: :mod:`qet_geo.store.census_figures`.
_NOT_WEIGHTED: dict[str, Msg] = {
    "no_folder": msg(
        "Non pondéré : le service n'a aucune table du recensement par IRIS. Pour en ajouter "
        "une, l'administrateur place le tableau de l'INSEE par IRIS (recensement, « base "
        "infracommunale » : colonnes P19_POP1529…, P19_F1529…, C19_POP15P_CS1…) en CSV dans "
        "le dossier census des données partagées (variable QET_SHARED_DATA), puis l'équipe "
        "publie à nouveau."
    ),
    "no_iris": msg(
        "Non pondéré : le quartier n'a pas de codes IRIS. Renseignez-les (étape 1, le "
        "quartier), puis publiez à nouveau."
    ),
    "no_table": msg(
        "Non pondéré : aucune table du recensement ne couvre les IRIS du quartier. Pour en "
        "ajouter une, l'administrateur place le tableau de l'INSEE par IRIS (recensement, "
        "« base infracommunale » : colonnes P19_POP1529…, P19_F1529…, C19_POP15P_CS1…) en "
        "CSV dans le dossier census des données partagées (variable QET_SHARED_DATA), puis "
        "l'équipe publie à nouveau."
    ),
    "no_variable": msg(
        "Non pondéré : la table du recensement des IRIS du quartier n'a aucune colonne par "
        "tranche d'âge, sexe ou catégorie socio-professionnelle que le service sait lire "
        "(noms de l'INSEE : P19_POP1529…, P19_F1529…, C19_POP15P_CS1…)."
    ),
}

#: Why a variable or the weighting was withheld.
_CENSUS_WITHHELD: dict[str, Msg] = {
    "unknown_small": msg(
        "Non montrée : de 1 à 10 répondants n'ont pas donné cette réponse, un groupe trop "
        "petit pour être montré (règle 2)."
    ),
    "too_few": msg(
        "Non montrée : même regroupées, les catégories ne forment pas de groupes de {n} "
        "répondants ou plus (règle 2).",
        n=MIN_RESPONDENTS,
    ),
    "no_groups": msg(
        "Empreintes pondérées non calculées : aucune variable ne forme au moins deux groupes "
        "de {n} répondants ou plus ayant des habitants au recensement.",
        n=MIN_RESPONDENTS,
    ),
    "raking": msg(
        "Empreintes pondérées non calculées : le calage sur le recensement n'a pas abouti."
    ),
}

_VARIABLE_LABELS: dict[str, Msg] = {
    "age_band": msg("Tranche d'âge"),
    "gender": msg("Sexe"),
    "csp": msg("Catégorie socio-professionnelle"),
}


def census_view(
    census: dict[str, Any], footprints: dict[str, float], *, live: bool, lang: str
) -> dict[str, Any]:
    """The set against the census (``release_census.html``): each variable's shares beside the
    census's, the weighted footprints beside the unweighted ones, or why not, in words."""
    from api.web.survey import category_label

    status = census.get("status")
    if not census:
        note = (
            msg(
                "La comparaison avec le recensement et les empreintes pondérées sont calculées "
                "à la publication."
            )
            if live
            else msg(
                "Publication faite avant la comparaison avec le recensement : une nouvelle "
                "publication la calculera."
            )
        )
        return {"status": "none", "note": note.render(lang)}
    if status != "ok":
        reason = _NOT_WEIGHTED.get(str(status), _NOT_WEIGHTED["no_table"])
        return {"status": "none", "note": reason.render(lang)}
    variables = []
    for v in census.get("variables") or []:
        name = str(v.get("variable"))
        shown: dict[str, Any] = {"label": _VARIABLE_LABELS[name].render(lang), "rows": []}
        if v.get("status") != "ok":
            reason = _CENSUS_WITHHELD.get(str(v.get("reason")), _CENSUS_WITHHELD["too_few"])
            shown["withheld"] = reason.render(lang)
        else:
            for row in v.get("rows") or []:
                labels = [category_label(name, str(c), lang) for c in row["categories"]]
                shown["rows"].append(
                    {
                        "label": " + ".join(labels),
                        "census": _pct(row.get("census_share"), lang),
                        "sample": _pct(row.get("sample_share"), lang),
                    }
                )
            if float(v.get("unknown_share") or 0) > 0:
                shown["rows"].append(
                    {
                        "label": msg("sans réponse").render(lang),
                        "census": "–",
                        "sample": _pct(v.get("unknown_share"), lang),
                    }
                )
        variables.append(shown)
    out: dict[str, Any] = {
        "status": "ok",
        "source": msg(
            "Recensement : {table}, IRIS {codes}.",
            table=str(census.get("table") or ""),
            codes=", ".join(str(c) for c in census.get("iris") or []),
        ).render(lang),
        "variables": variables,
        "weighted": [],
        "weighting": "",
    }
    weighted = census.get("weighted") or {}
    if weighted.get("status") != "ok":
        reason = _CENSUS_WITHHELD.get(str(weighted.get("reason")), _CENSUS_WITHHELD["raking"])
        out["weighting"] = reason.render(lang)
        return out
    values = weighted.get("footprints") or {}
    for key in [*USAGES, "total"]:
        if key not in footprints:
            continue
        label = (msg("Total des six usages") if key == "total" else USAGE_LABELS[key]).render(lang)
        out["weighted"].append(
            {
                "label": label,
                "raw": _kg(footprints[key], lang),
                "weighted": _kg(values[key], lang) if key in values else None,
            }
        )
    names = [_VARIABLE_LABELS[v].render(lang) for v in weighted.get("variables") or {}]
    names = [n[:1].lower() + n[1:] for n in names]  # within a sentence
    low, high = (weighted.get("bounds") or [0.3, 3.0])[:2]
    text = msg(
        "Poids calés (raking) sur les marges du recensement par {variables}, écrêtés entre "
        "{low} et {high} fois le poids moyen ; taille d'échantillon effective : {n_eff}.",
        variables=", ".join(names),
        low=number(float(low), decimals=1),
        high=number(float(high), decimals=1),
        n_eff=number(float(weighted.get("effective_n") or 0), decimals=0),
    ).render(lang)
    if not weighted.get("converged", True):
        text += " " + msg(
            "L'écrêtage empêche d'atteindre exactement les marges : écart restant de "
            "{gap} points au plus.",
            gap=number(100 * float(weighted.get("max_gap") or 0), decimals=1),
        ).render(lang)
    out["weighting"] = text
    return out


def _perceived(other: dict[str, Any], lang: str) -> dict[str, Any] | None:
    """The other surveys of a set as ``release_perceived.html`` shows them (None: none)."""
    if not other:
        return None
    from qet_geo.store.perceived import perceived_view

    return perceived_view(other, "en" if lang == "en" else "fr")


def _column_label(column: str, lang: str) -> str:
    if column == "n_respondents":
        return msg("répondants").render(lang)
    return get_figure(column).label.render(lang)


#: Figure views kept in this process, by what they are made of (a preview's version or a
#: release's id, the language, the national profiles that describe the shares): a page reuses
#: them until that changes. Bounded: the oldest go first.
_VIEWS: OrderedDict[tuple[Any, ...], FigureView] = OrderedDict()
_VIEWS_LOCK = threading.Lock()
_VIEWS_KEPT = 64


def _kept_view(key: tuple[Any, ...], make: Callable[[], FigureView]) -> FigureView:
    with _VIEWS_LOCK:
        hit = _VIEWS.get(key)
        if hit is not None:
            _VIEWS.move_to_end(key)
            return hit
    view = make()
    with _VIEWS_LOCK:
        _VIEWS[key] = view
        while len(_VIEWS) > _VIEWS_KEPT:
            _VIEWS.popitem(last=False)
    return view


def _section(request: Request, view: FigureView, key: str) -> str:
    """The section of a set of figures (``release_figures.html``, autoescaped like every
    template), rendered once for the kept view: the page then writes it as it is."""
    view.html = bytes(
        render(request, "release_figures.html", {"fig": view, "key": key}).body
    ).decode()
    return view.html


def _national_version(session: Session) -> str:
    """The national reference profiles (a handful of rows), which describe the shares."""
    rows = session.execute(_NATIONAL).all()
    return json.dumps([list(r) for r in rows], sort_keys=True, default=str)


_NATIONAL = (
    select(Profile.number, Profile.share, Profile.centre)
    .where(Profile.scope == "national", Profile.diagnostic_id.is_(None))
    .order_by(Profile.number)
)


def _live_view(request: Request, session: Session, diag: Diagnostic, lang: str) -> FigureView:
    """The live preview of ``diag`` as the page shows it, computed once per state of the data.

    The figures are kept by :func:`qet_geo.store.releases.keep_preview` (in a file every server
    process reads, keyed by :func:`~qet_geo.store.releases.preview_version`); when the data
    changed, the request's connection is given back before they are computed again.
    """
    osm_dir = _settings(request).osm_dir
    version = preview_version(session, diag.id, osm_dir=osm_dir)
    if version is None:
        raise not_found(request, None)
    national = _national_version(session)
    # the census comparison depends on the neighbourhood's IRIS too (not in the version)
    hood = session.get(Neighbourhood, diag.neighbourhood_id)
    iris = tuple(sorted(str(c) for c in (hood.iris_codes or []))) if hood is not None else ()
    key = ("live", diag.id, version, lang, national, iris)
    with _VIEWS_LOCK:
        hit = _VIEWS.get(key)
    if hit is not None:
        return hit
    preview = kept_preview(diag.id, version, osm_dir=osm_dir)
    if preview is None:
        session.commit()  # no connection held while the figures are computed
        preview = keep_preview(request.app.state.engine, diag.id, osm_dir=osm_dir)
    # computed for the version read at its start: kept under that one
    key = ("live", diag.id, preview.version, lang, national, iris)
    title = msg("Aperçu : ce qu'une publication montrerait maintenant").render(lang)

    def make() -> FigureView:
        figures = preview.figures
        if preview.version == version and figures.n_respondents:
            from qet_geo.store.census_figures import preview_census

            census = preview_census(
                session,
                diag.id,
                getattr(request.app.state, "shared_data", None),
                publishable=list(figures.footprints),
            )
            figures = replace(figures, census=census)
        view = figure_view(
            session,
            figures,
            title=title,
            lang=lang,
            live=True,
            constraints=preview.constraints,
            own_profiles=preview.own_profiles,
        )
        _section(request, view, "apercu")
        return view

    return _kept_view(key, make)


def _release_view(request: Request, session: Session, release_id: int, lang: str) -> FigureView:
    """A release as the page shows it: from its stored figures only (a release never changes)."""
    # a release never changes; its id is that of one store (the tests run several)
    key = (
        "release",
        str(session.get_bind().engine.url),
        release_id,
        lang,
        _national_version(session),
    )

    def make() -> FigureView:
        shown = session.get_one(Release, release_id)
        view = figure_view(
            session,
            Figures.from_json(shown.figures),
            title=msg(
                "Publication n° {number} du {day}",
                number=shown.number,
                day=day(shown.created_at),
            ).render(lang),
            lang=lang,
            live=False,
            constraints=(shown.summary or {}).get("constraints") or {},
        )
        view.release = shown.number
        _section(request, view, "publication")
        return view

    return _kept_view(key, make)


def _results_page(
    request: Request,
    session: Session,
    visitor: Visitor,
    hood: Neighbourhood,
    *,
    chosen: int | None = None,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    lang = lang_of(request)
    diag = current_diagnostic(session, hood)
    context: dict[str, Any] = {
        "hood": hood,
        "diag": diag,
        "error": error,
        "notice": notice,
        "can_publish": visitor.caller.can_write(hood),
    }
    if diag is not None:
        # the list only: a release's figures are read when it is shown, and its view is kept
        releases = session.execute(_RELEASES, {"diag": diag.id}).all()
        context["releases"] = [
            {"number": r.number, "day": day(r.created_at).render(lang), "n": r.n_respondents}
            for r in releases
        ]
        shown = next((r for r in releases if r.number == chosen), None) if chosen else None
        shown = shown or (releases[0] if releases else None)
        if shown is not None:
            context["release"] = _release_view(request, session, int(shown.id), lang)
        if reads_live(session, visitor.caller, diag):
            context["live"] = _live_view(request, session, diag, lang)
        live_view = context.get("live")
        release_view = context.get("release")
        context["has_map"] = bool(
            (live_view is not None and live_view.cells)
            or (live_view is None and release_view is not None and release_view.cells)
        )
    return render(request, "release_page.html", context, visitor=visitor, status=status)


@router.get("/espace/quartiers/{hood_id}/resultats", response_class=HTMLResponse)
def results_page(
    request: Request, session: SessionDep, hood_id: str, publication: str = ""
) -> Response:
    """The exhibition: the live preview, the releases, what was withheld, and "Publier"."""
    visitor = signed_in(request, session)
    hood = hood_for_page(request, session, visitor, hood_id)
    chosen = int(publication) if publication.isdigit() and len(publication) < 9 else None
    notice = None
    if chosen is not None and request.query_params.get("nouvelle") == "1":
        notice = msg("Publication n° {number} faite.", number=chosen).render(lang_of(request))
    return _results_page(request, session, visitor, hood, chosen=chosen, notice=notice)


@router.post("/espace/quartiers/{hood_id}/resultats/publier", response_class=HTMLResponse)
def publish(
    request: Request,
    session: SessionDep,
    hood_id: str,
    csrf: FormStr = "",
    confirmer: FormStr = "",
) -> Response:
    """Make the next release (admin, the pilot team), as ``POST /diagnostics/{id}/releases``."""
    visitor = signed_in(request, session)
    check_csrf(request, visitor, csrf)
    hood = hood_for_page(request, session, visitor, hood_id)
    lang = lang_of(request)
    diag = current_diagnostic(session, hood)
    if diag is None:
        return _results_page(request, session, visitor, hood, status=409)
    _write_access(request, session, visitor, diag)
    if confirmer != "oui":
        error = msg(
            "Cochez la case de confirmation : une publication ne peut pas être retirée."
        ).render(lang)
        return _results_page(request, session, visitor, hood, error=error, status=400)
    try:
        release = create_release(
            request.app.state.engine,
            diag.id,
            osm_dir=_settings(request).osm_dir,
            shared_data=getattr(request.app.state, "shared_data", None),
        )
    except QetGeoError as exc:  # the privacy rules' refusal, or a release made at the same moment
        request.app.state.aggregates.clear(diag.id)
        text = msg("Publication refusée : {reason}", reason=exc.localized(lang)).render(lang)
        return _results_page(request, session, visitor, hood, error=text, status=422)
    request.app.state.aggregates.clear(diag.id)
    return redirect(
        f"/espace/quartiers/{hood.id}/resultats?publication={release.number}&nouvelle=1"
    )


@router.get("/cartes/quartiers/{hood_id}/resultats", response_class=HTMLResponse)
def results_map(request: Request, session: SessionDep, hood_id: str) -> Response:
    """The API's map of the diagnostic (profiles and footprints per 200 m cell) for the visitor:
    the live preview with write access, else the latest release, as ``/diagnostics/{id}/map``.

    A self-contained folium page with inline scripts: it has the maps' policy, outside
    ``/espace`` (which forbids inline scripts), and is linked to, not framed.
    """
    visitor = signed_in(request, session)
    hood = hood_for_page(request, session, visitor, hood_id)
    diag = current_diagnostic(session, hood)
    if diag is None:
        raise not_found(request, visitor)
    try:
        page = diagnostic_map(
            in_page_lang(request), session, visitor.caller, _settings(request), diag.id
        )
    except QetGeoError:  # nothing to map yet (fewer than 11 located respondents, no release)
        raise not_found(request, visitor) from None
    page.headers["Cache-Control"] = "no-store"
    return page
