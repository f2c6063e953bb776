"""``qet route``: the walking "visite du quartier" through the places that matter.

The command is defined here as a plain function, ready for ``typer``; :mod:`qet_geo.cli.main`
registers it (``app.command("route")(route)``); the options shared with the other commands come
from :mod:`qet_geo.cli._common`. It reads the extract, takes the stops from a file (``--stops``)
or picks them (``--auto N``), orders them to minimise the walking time
(:func:`qet_geo.visit.plan.plan_visit`, the visit the service plans too), and writes the GPX
given by ``--out`` with the GeoJSON and the HTML roadbook beside it, all three or none. The
library is imported when the command runs, so that ``qet --help`` starts at once.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.console import Console

from qet_geo.cli._common import (
    BufferOpt,
    CommuneOpt,
    CommunesLayerOpt,
    GtfsOpt,
    IrisLayerOpt,
    IrisOpt,
    OsmFileArg,
    TerritoryOpt,
    _fail,
    _progress,
    _state,
    _t,
    _territory,
    _user_errors,
    out_console,
)
from qet_geo.crs import WGS84

if TYPE_CHECKING:
    from qet_geo.visit.plan import VisitRoute

__all__ = ["MAX_AUTO_STOPS", "route"]

#: Most stops ``--auto`` picks (the criteria of :func:`qet_geo.visit.stops.auto_stops`).
MAX_AUTO_STOPS = 18

_LONG_VISIT_MIN = 180  # past this, the command suggests a time budget


def route(
    osm_file: OsmFileArg,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Fichier GPX de sortie (route.gpx) ; le GeoJSON (route.geojson) et la feuille "
            "de route imprimable (route.html) sont écrits à côté.",
        ),
    ],
    stops: Annotated[
        Path | None,
        typer.Option(
            "--stops",
            help="Étapes : GeoJSON, GeoPackage ou CSV (lon, lat), colonnes facultatives name, "
            "reason, priority (plus grand = gardé plus longtemps), dwell_min.",
            show_default=False,
        ),
    ] = None,
    auto: Annotated[
        int | None,
        typer.Option(
            "--auto",
            help="Choisit N étapes : marché, commerces, école, arrêt animé, parc, seconde main, "
            "logements le mieux et le moins bien desservis...",
            show_default=False,
        ),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            "--start",
            help="Point de départ LON,LAT (par défaut : la première étape, au mieux).",
            show_default=False,
        ),
    ] = None,
    loop: Annotated[
        bool, typer.Option("--loop", help="Revient au point de départ à la fin.")
    ] = False,
    max_minutes: Annotated[
        float | None,
        typer.Option(
            "--max-minutes",
            help="Durée maximale (marche + arrêts) ; au-delà, les étapes de plus faible "
            "priorité sont retirées une à une.",
            show_default=False,
        ),
    ] = None,
    dwell: Annotated[float, typer.Option("--dwell", help="Minutes d'arrêt à chaque étape.")] = 5.0,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            help="Nom du quartier en titre de la feuille de route et du GPX (par défaut : celui "
            "du territoire).",
            show_default=False,
        ),
    ] = None,
    territory: TerritoryOpt = None,
    iris: IrisOpt = None,
    iris_layer: IrisLayerOpt = None,
    commune: CommuneOpt = None,
    communes_layer: CommunesLayerOpt = None,
    buffer: BufferOpt = 1000.0,
    gtfs: GtfsOpt = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help='Affiche {"order", "length_m", "duration_min", "dropped", ...} en JSON.',
        ),
    ] = False,
) -> None:
    """Prépare la visite du quartier à pied : ordre optimal des étapes, GPX et feuille de route."""
    if out.suffix.lower() != ".gpx":
        _fail(
            _t(
                "--out {out} : utilisez un fichier .gpx (le .geojson et le .html sont écrits à "
                "côté).",
                out=out,
            )
        )
    if (stops is None) == (auto is None):
        _fail(
            _t(
                "donnez les étapes avec --stops FICHIER ou demandez-en N avec --auto N (l'un ou "
                "l'autre)."
            )
        )
    if auto is not None and not 2 <= auto <= MAX_AUTO_STOPS:
        _fail(
            _t(
                "--auto {auto} : demandez entre 2 et {most} étapes.",
                auto=auto,
                most=MAX_AUTO_STOPS,
            )
        )
    if max_minutes is not None and not max_minutes > 0:
        _fail(
            _t(
                "--max-minutes {max_minutes:g} : donnez une durée positive en minutes.",
                max_minutes=max_minutes,
            )
        )
    if not dwell >= 0:
        _fail(_t("--dwell {dwell:g} : donnez une durée d'arrêt positive ou nulle.", dwell=dwell))
    start_lonlat = _parse_lonlat(start) if start is not None else None
    if not out.parent.is_dir():
        _fail(_t("--out {out} : le dossier {parent} n'existe pas.", out=out, parent=out.parent))
    lang: Literal["fr", "en"] = "en" if _state["lang"] == "en" else "fr"
    with _user_errors(), _progress(not as_json and sys.stderr.isatty()) as step:
        import shapely
        from pyproj import Transformer

        from qet_geo.pipeline import build_neighbourhood
        from qet_geo.visit.export import route_summary, write_route
        from qet_geo.visit.plan import plan_visit
        from qet_geo.visit.stops import read_stops

        from_file = read_stops(stops) if stops is not None else None
        area = _territory(territory, iris, iris_layer, commune, communes_layer, buffer)
        hood = build_neighbourhood(
            osm_file,
            territory=area,
            gtfs=gtfs,
            with_access=from_file is None,
            progress=step,
        )
        start_point = None
        if start_lonlat is not None:
            to_crs = Transformer.from_crs(WGS84, hood.networks["walk"].crs, always_xy=True)
            start_point = shapely.Point(*to_crs.transform(*start_lonlat))
        step(_t("Ordre des étapes"))
        visit = plan_visit(
            hood,
            n=auto or 2,
            stops=from_file,
            start=start_point,
            loop=loop,
            max_minutes=max_minutes,
            dwell_min=dwell,
            lang=lang,
        )
        step("write")
        paths = write_route(visit, out, lang=lang, title=name or hood.layers.territory.name)
    summary: dict[str, Any] = route_summary(visit)
    summary["outputs"] = {k: str(v) for k, v in paths.items()}
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False))
        return
    _print_visit(visit, summary, out_console)


def _parse_lonlat(text: str) -> tuple[float, float]:
    try:
        lon, lat = (float(v) for v in text.split(","))
    except ValueError:
        _fail(_t("--start {text} : attendu LON,LAT en degrés (ex. -3.36,47.75).", text=text))
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        _fail(
            _t(
                "--start {text} : ce n'est pas un point LON,LAT en degrés (ex. -3.36,47.75).",
                text=text,
            )
        )
    return lon, lat


def _print_visit(visit: VisitRoute, summary: dict[str, Any], console: Console) -> None:
    from rich.markup import escape

    from qet_geo.visit.export import _fmt_m, _fmt_min, _runs, _streets_text

    lang = _state["lang"]
    console.print(
        _t(
            "Visite de {n} étapes : [bold]{length}[/], "
            "{walk} de marche + {dwell} d'arrêts = [bold]{total}[/]",
            n=len(visit.stops),
            length=_fmt_m(visit.length_m, lang),
            walk=_fmt_min(visit.walk_min),
            dwell=_fmt_min(visit.dwell_total_min),
            total=_fmt_min(visit.duration_min),
        ),
        highlight=False,
    )
    legs = visit.legs
    lead = 0 if visit.start is not None else 1
    for stop_id, row in visit.stops.iterrows():
        arriving = int(row["order"]) - lead - 1
        if 0 <= arriving < len(legs):
            streets = _streets_text(_runs(legs.iloc[arriving]), lang)
            if streets:
                console.print(f"      [dim]↳ {escape(streets)}[/]", highlight=False)
        name = row.get("name") if isinstance(row.get("name"), str) else str(stop_id)
        console.print(
            f"  {int(row['order']):>2}. {escape(name)}  [dim]+{_fmt_min(row['arrive_min'])}[/]",
            highlight=False,
        )
    back = visit.return_leg
    if back is not None:
        streets = _streets_text(_runs(back), lang)
        if streets:
            console.print(f"      [dim]↳ {escape(streets)}[/]", highlight=False)
        console.print(
            _t(
                "   ↺ Retour au départ (la visite est une boucle) : {length} · {time}",
                length=_fmt_m(float(back["length_m"]), lang),
                time=_fmt_min(float(back["time_min"])),
            ),
            highlight=False,
        )
    if visit.max_minutes is None and visit.duration_min > _LONG_VISIT_MIN:
        console.print(
            _t(
                "Visite de plus de {hours} h : donnez une durée maximale (--max-minutes) pour "
                "ne garder que les étapes prioritaires.",
                hours=_LONG_VISIT_MIN // 60,
            ),
            highlight=False,
        )
    if len(visit.dropped):
        names = ", ".join(
            str(r.get("name")) if isinstance(r.get("name"), str) else str(i)
            for i, r in visit.dropped.iterrows()
        )
        console.print(
            _t("Retirées pour tenir le budget : {names}", names=escape(names)),
            highlight=False,
        )
    for path in summary["outputs"].values():
        console.print(f"  → [bold]{escape(str(path))}[/]", highlight=False)
