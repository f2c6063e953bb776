"""The whole neighbourhood diagnostic, from files to the forum exhibition.

:func:`run_diagnostic` chains the steps — layers → access → surveys → profiles → footprints →
links → maps → visit route → report — and writes a folder that works offline: ``index.html``
(the exhibition, in French by default), the maps as separate offline pages, ``layers.gpkg`` and
the tables as CSV. The folder is built beside its destination and renamed at the end, so a failed
run never leaves half a report.

A diagnostic is described by flags or by a TOML file (:func:`load_config`)::

    name = "Lorient centre"
    osm = "../shared/data/osm/lorient_centre.osm.pbf"
    territory = "data/osm/lorient_centre.geojson"
    survey = "answers.gpkg"          # or: synthetic = 600 (labelled synthetic answers)
    profile_method = "ordinal-ward"  # or "near"
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import tomllib
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import date
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from qet_geo._files import staging_folder
from qet_geo.errors import InputFileError, QetGeoWarning, ValidationError
from qet_geo.i18n import msg, number
from qet_geo.inputs.territory import Territory

if TYPE_CHECKING:
    from qet_geo.pipeline import Neighbourhood

__all__ = ["STEPS", "DiagnosticConfig", "DiagnosticResult", "load_config", "run_diagnostic"]

log = logging.getLogger(__name__)

#: The steps, in order (the progress bar shows them).
STEPS: tuple[str, ...] = (
    "layers",
    "access",
    "surveys",
    "profiles",
    "footprints",
    "links",
    "maps",
    "route",
    "report",
)

Progress = Callable[[str], None]


@dataclass
class DiagnosticConfig:
    """What a diagnostic reads and how.

    Attributes
    ----------
    osm
        The OSM extract of the neighbourhood and its surroundings.
    name
        The neighbourhood's name in the report; the territory's by default.
    territory, iris, iris_layer, commune, communes_layer, buffer_m
        The territory (see :mod:`qet_geo.inputs.territory`); the extract's extent when none is given.
    census, dem, gtfs
        Optional census grid or IRIS table, elevation model, GTFS feed.
    survey
        Located SU answers (GeoPackage/Parquet with ``building_key`` or geometry, or a survey
        file with lon/lat, cell or address); None with ``synthetic`` for a demo.
    synthetic
        Number of labelled-synthetic answers to generate when there is no survey.
    profile_method
        "ordinal-ward" (default) or "near" (NEAR's reference algorithm).
    scale
        kgCO2e scale of the answer levels: "ngc" (NosGestesClimat, default) or "near".
    route_stops
        Stops of the automatic visit route.
    seed
        Seed of the synthetic answers and of the bootstrap intervals.
    lang
        "fr" (default) or "en".
    """

    osm: Path
    name: str | None = None
    territory: Path | None = None
    iris: list[str] | None = None
    iris_layer: Path | None = None
    commune: str | None = None
    communes_layer: Path | None = None
    buffer_m: float = 1000.0
    census: Path | None = None
    dem: Path | None = None
    gtfs: Path | None = None
    survey: Path | None = None
    synthetic: int | None = None
    profile_method: Literal["ordinal-ward", "near"] = "ordinal-ward"
    scale: Literal["ngc", "near"] = "ngc"
    route_stops: int = 8
    seed: int = 0
    lang: Literal["fr", "en"] = "fr"

    def __post_init__(self) -> None:
        if self.survey is None and not self.synthetic:
            raise ValidationError(
                msg(
                    "Aucune enquête : donnez les réponses SU localisées (survey), ou un nombre de "
                    "réponses synthétiques pour une démonstration (synthetic)."
                )
            )
        if self.survey is not None and self.synthetic:
            raise ValidationError(
                msg("Donnez soit une enquête, soit des réponses synthétiques, pas les deux.")
            )
        if self.profile_method not in ("ordinal-ward", "near"):
            raise ValidationError(
                msg(
                    "Méthode de profils {profile_method!r} inconnue : utilisez ordinal-ward ou near.",
                    profile_method=self.profile_method,
                )
            )
        if self.scale not in ("ngc", "near"):
            raise ValidationError(
                msg("Échelle {scale!r} inconnue : utilisez ngc ou near.", scale=self.scale)
            )


def load_config(path: str | PathLike[str]) -> DiagnosticConfig:
    """Read a diagnostic from a TOML file; relative paths are relative to the file."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise InputFileError(
            msg("Fichier de configuration introuvable : {path}.", path=path), path=path
        ) from err
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise InputFileError(
            msg(
                "{path} n'est pas un TOML valide ({err}). Vérifiez la syntaxe : lignes clé = "
                '"valeur".',
                path=path,
                err=err,
            ),
            path=path,
        ) from err
    known = {f.name for f in fields(DiagnosticConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValidationError(
            msg(
                "{path} : clé(s) inconnue(s) {unknown} ; clés possibles : {known}.",
                path=path,
                unknown=", ".join(unknown),
                known=", ".join(sorted(known)),
            ),
            path=path,
        )
    if "osm" not in raw:
        raise ValidationError(
            msg("{path} : la clé osm (l'extrait OSM) est obligatoire.", path=path), path=path
        )
    base = path.parent
    paths = {"osm", "territory", "iris_layer", "communes_layer", "census", "dem", "gtfs", "survey"}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        values[key] = (base / value) if key in paths and value is not None else value
    if isinstance(values.get("iris"), str):
        values["iris"] = [c.strip() for c in values["iris"].split(",") if c.strip()]
    return DiagnosticConfig(**values)


@dataclass
class DiagnosticResult:
    """Where the report was written and what it holds."""

    out_dir: Path
    index: Path
    files: list[Path]
    synthetic: bool
    n_answers: int
    n_homes: int
    timings_s: dict[str, float] = field(default_factory=dict)


def _territory(config: DiagnosticConfig) -> Territory | None:
    from qet_geo.inputs.territory import territory_from_options

    return territory_from_options(
        territory=config.territory,
        iris=config.iris,
        iris_layer=config.iris_layer,
        commune=config.commune,
        communes_layer=config.communes_layer,
        name=config.name,
        buffer_m=config.buffer_m,
    )


def run_diagnostic(
    config: DiagnosticConfig,
    out_dir: str | PathLike[str],
    *,
    progress: Progress | None = None,
) -> DiagnosticResult:
    """Run every step of the diagnostic and write the report folder.

    Parameters
    ----------
    config
        What to read (:class:`DiagnosticConfig` or :func:`load_config`).
    out_dir
        The folder to write; replaced as a whole at the end if it exists.
    progress
        Called with each step's name (:data:`STEPS`) as it starts.
    """
    import time

    step = progress or (lambda name: None)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputFileError(
            msg(
                "{out_dir} existe et n'est pas un dossier. Choisissez une autre sortie.",
                out_dir=out_dir,
            ),
            path=out_dir,
        )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_folder(out_dir.parent, out_dir.name)
    timings: dict[str, float] = {}
    current: dict[str, Any] = {"name": "", "t0": time.perf_counter()}

    def start(name: str) -> None:
        now = time.perf_counter()
        if current["name"]:
            timings[current["name"]] = now - current["t0"]
        current.update(name=name, t0=now)
        if name:
            step(name)

    try:
        result = _run(config, staging, start)
        start("")
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=out_dir.parent))
            os.replace(out_dir, old / out_dir.name)
            os.replace(staging, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    files = sorted(p for p in out_dir.rglob("*") if p.is_file())
    return DiagnosticResult(
        out_dir=out_dir,
        index=out_dir / "index.html",
        files=files,
        synthetic=result["synthetic"],
        n_answers=result["n_answers"],
        n_homes=result["n_homes"],
        timings_s=timings,
    )


def _run(config: DiagnosticConfig, folder: Path, start: Progress) -> dict[str, Any]:
    from qet_geo.analysis.footprint import read_ngc_scale, su_footprints
    from qet_geo.analysis.links import link_report
    from qet_geo.analysis.profiles import UsageProfiles
    from qet_geo.constraints.access import score_distribution
    from qet_geo.constraints.indicators import REACHES_BORDER
    from qet_geo.exhibition import report
    from qet_geo.exhibition._tables import (
        FROM_ANSWERS,
        TABLE_TITLES,
        exhibition_tables,
        margins_left_out,
    )
    from qet_geo.layers import write_layers
    from qet_geo.pipeline import build_neighbourhood
    from qet_geo.surveys.located import read_located_answers
    from qet_geo.surveys.schema import USAGES

    lang = config.lang
    start("layers")
    hood = build_neighbourhood(
        config.osm,
        territory=_territory(config),
        census=config.census,
        iris_layer=config.iris_layer if config.census else None,
        dem=config.dem,
        gtfs=config.gtfs,
        modes=("walk",),
        progress=lambda name: start(name) if name == "access" else None,
    )
    layers, access = hood.layers, hood.access["walk"]
    name = config.name or layers.territory.name
    write_layers(layers, folder)
    _csv(access, folder / "tables" / "access_walk.csv")

    start("surveys")
    if config.survey is not None:
        answers = read_located_answers(config.survey, layers)
        synthetic = bool(answers.get("synthetic", pd.Series(False)).astype(bool).any())
    else:
        from qet_geo.surveys.synthetic import synthesize_answers

        answers = synthesize_answers(
            layers, int(config.synthetic or 0), seed=config.seed, access=access
        )
        synthetic = True
    complete = answers.dropna(subset=list(USAGES))
    from qet_geo.privacy import MIN_RESPONDENTS

    if len(complete) < MIN_RESPONDENTS:
        raise ValidationError(
            msg(
                "Moins de {minimum} réponses SU complètes : un diagnostic ne publie rien "
                "sous {minimum} répondants (secret statistique). Recueillez davantage de "
                "réponses.",
                minimum=MIN_RESPONDENTS,
            )
        )

    start("profiles")
    model = UsageProfiles(method=config.profile_method, random_state=config.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QetGeoWarning)  # the report flags small profiles itself
        labels = pd.Series(model.fit_predict(complete), index=complete.index, name="profile")

    start("footprints")
    footprints = su_footprints(complete, scale=config.scale)
    ngc_scale = read_ngc_scale()

    start("links")
    links = link_report(
        complete,
        access,
        profiles=model,
        scale=config.scale,
        random_state=config.seed,
        lang=lang,
        n_bootstrap=100,
    )

    start("maps")
    map_files = _maps(
        layers, access, complete.join(labels), footprints, folder, lang, synthetic=synthetic
    )

    start("route")
    route_rows, route_summary, route_files = _route(hood, folder, config, lang)

    start("report")
    tables = exhibition_tables(
        footprints=footprints,
        ngc_scale=ngc_scale,
        profiles=model,
        labels=labels,
        access=access,
        links=links,
        lang=lang,
    )
    frames = tables.frames()
    for table_name, frame in frames.items():
        if table_name in FROM_ANSWERS:
            # the answers' label goes with every table made from them (files travel alone)
            frame = frame.assign(synthetic=synthetic)
        _csv(frame, folder / "tables" / f"{table_name}.csv")
    files = [(msg("Couches (GeoPackage, QGIS)").render(lang), "layers.gpkg")]
    files += [
        (msg("{table} (tableau CSV)", table=TABLE_TITLES[n]).render(lang), f"tables/{n}.csv")
        for n in frames
    ]
    files += route_files
    content = report.ReportContent(
        name=name,
        synthetic=synthetic,
        n_answers=len(complete),
        homes=len(access),
        homes_at_edge=int(access[REACHES_BORDER].fillna(False).astype(bool).sum())
        if REACHES_BORDER in access
        else 0,
        homes_off_network=int(access["off_network"].astype(bool).sum()),
        score_15min=float(score_distribution(access).attrs["weighted_mean"]),
        usage_rows=tables.footprints_by_usage,
        profile_rows=tables.profiles,
        constraint_rows=tables.constraints,
        model_rows=tables.links_models,
        margin_rows=tables.margins_of_manoeuvre,
        vote_rows=tables.vote_themes,
        margins_left_out=margins_left_out(links, lang),
        maps=map_files,
        route_rows=route_rows,
        route_summary=route_summary,
        files=files,
        date=date.today().isoformat(),
        sources=[
            "osm",
            *(["census"] if config.census else []),
            *(["dem"] if config.dem else []),
            *(["gtfs"] if config.gtfs else []),
            "synthetic" if synthetic else "survey",
        ],
    )
    (folder / "index.html").write_text(report.render_report(content, lang=lang), encoding="utf-8")
    return {"synthetic": synthetic, "n_answers": len(complete), "n_homes": len(access)}


def _csv(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pd.DataFrame(frame.drop(columns="geometry", errors="ignore"))
    table.to_csv(path, index=not isinstance(table.index, pd.RangeIndex))


def _maps(
    layers: Any,
    access: pd.DataFrame,
    answers: pd.DataFrame,
    footprints: pd.DataFrame,
    folder: Path,
    lang: str,
    *,
    synthetic: bool,
) -> list[tuple[str, str]]:
    """The exhibition's maps: three built constraints (the extract only), then the profiles
    (the answers: labelled synthetic on the map itself when they are)."""
    from maps import (
        add_synthetic_banner,
        add_title,
        make_basemap,
        make_constraints_map,
        make_profiles_map,
        save_map,
    )
    from qet_geo.constraints.indicators import SCORE, nearest_min

    out: list[tuple[str, str]] = []
    specs = [
        (nearest_min("food_shop"), msg("Commerce alimentaire le plus proche")),
        (SCORE, msg("Score « ville du quart d'heure »")),
        (nearest_min("transit_stop"), msg("Arrêt de transport le plus proche")),
    ]
    for column, title in specs:
        m = make_basemap(layers, lang=lang)
        make_constraints_map(access, column, m=m, lang=lang)
        add_title(m, title.render(lang))
        path = folder / "maps" / f"{column}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_map(m, path)
        out.append((title.render(lang), f"maps/{path.name}"))
    respondents = answers.join(footprints[["total_kgco2e"]])
    m = make_basemap(layers, lang=lang)
    make_profiles_map(respondents, m=m, lang=lang)
    profiles_title = msg("Profils d'usages par carreau").render(lang)
    add_title(m, profiles_title)
    if synthetic:
        add_synthetic_banner(m, lang=lang)
    save_map(m, folder / "maps" / "profiles.html")
    out.append((profiles_title, "maps/profiles.html"))
    return out


def _route(
    hood: Neighbourhood, folder: Path, config: DiagnosticConfig, lang: str
) -> tuple[list[dict[str, Any]], str, list[tuple[str, str]]]:
    from qet_geo.visit.export import write_route
    from qet_geo.visit.plan import plan_visit

    route = plan_visit(hood, n=config.route_stops, loop=True, lang=config.lang)
    (folder / "route").mkdir(parents=True, exist_ok=True)
    written = write_route(
        route, folder / "route" / "visite.gpx", lang=config.lang, title=config.name
    )
    rows = [
        {
            "order": int(r["order"]),
            "name": r.get("name", ""),
            "reason": r.get("reason", ""),
            "leg": msg(
                "{metres} m · {minutes} min",
                metres=number(round(float(r["leg_m"])), decimals=0),
                minutes=number(round(float(r["leg_min"])), decimals=0),
            ).render(lang),
        }
        for _, r in route.stops.iterrows()
    ]
    summary = msg(
        "{n} étapes, {km} km, {minutes} min à pied (arrêts compris) ; ordre {order}.",
        n=len(rows),
        km=number(round(route.length_m / 1000, 1), decimals=1),
        minutes=number(round(route.duration_min), decimals=0),
        order=msg("optimal") if route.method == "held-karp" else msg("quasi optimal"),
    ).render(lang)
    back = route.return_leg
    if back is not None:
        summary += " " + msg(
            "C'est une boucle : le retour de la dernière étape au point de départ fait "
            "{metres} m ({minutes} min), compris dans le total.",
            metres=number(round(float(back["length_m"])), decimals=0),
            minutes=number(round(float(back["time_min"])), decimals=0),
        ).render(lang)
    kinds = {
        "gpx": msg("Visite : trace pour GPS (GPX)"),
        "geojson": msg("Visite : étapes et trajet (GeoJSON, QGIS)"),
        "html": msg("Visite : feuille de route à imprimer"),
    }
    files = [
        (kinds[kind].render(lang) if kind in kinds else p.name, f"route/{p.name}")
        for kind, p in written.items()
    ]
    return rows, summary, files
