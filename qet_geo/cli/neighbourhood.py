"""``qet layers``, ``qet access`` and ``qet isochrone``: a neighbourhood's layers and built constraints.

Registered by :mod:`qet_geo.cli.main`. Each command reads the extract and the territory options,
calls :mod:`qet_geo.layers` or :mod:`qet_geo.pipeline`, and prints or writes the result.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from qet_geo.cli._common import (
    BufferOpt,
    CensusOpt,
    CommuneOpt,
    CommunesLayerOpt,
    DemOpt,
    GtfsOpt,
    IrisLayerOpt,
    IrisOpt,
    ModeOpt,
    OsmFileArg,
    TerritoryOpt,
    _fail,
    _progress,
    _t,
    _territory,
    _user_errors,
    out_console,
)
from qet_geo.crs import WGS84
from qet_geo.pipeline import Homes, Mode

if TYPE_CHECKING:
    from qet_geo.layers import NeighbourhoodLayers

__all__ = ["access", "isochrone", "layers"]


def layers(
    osm_file: OsmFileArg,
    out: Annotated[
        Path, typer.Option("--out", help="Dossier de sortie (layers.gpkg y est écrit).")
    ],
    territory: TerritoryOpt = None,
    iris: IrisOpt = None,
    iris_layer: IrisLayerOpt = None,
    commune: CommuneOpt = None,
    communes_layer: CommunesLayerOpt = None,
    buffer: BufferOpt = 1000.0,
    census: CensusOpt = None,
    dem: DemOpt = None,
    landcover: Annotated[
        Path | None, typer.Option(help="Occupation du sol (raster Corine Land Cover).")
    ] = None,
    gtfs: GtfsOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Affiche un résumé JSON (nombre d'objets par couche).")
    ] = False,
) -> None:
    """Lit toutes les couches d'un quartier et les écrit dans DIR/layers.gpkg."""
    with _user_errors(), _progress(not as_json and sys.stderr.isatty()) as step:
        from qet_geo.layers import build_layers, write_layers

        area = _territory(territory, iris, iris_layer, commune, communes_layer, buffer)
        result = build_layers(
            osm_file,
            territory=area,
            census=census,
            iris_layer=iris_layer,
            dem=dem,
            landcover=landcover,
            gtfs=gtfs,
            progress=step,
        )
        step("write")
        path = write_layers(result, out)
        border = _border_counts(result)
    counts = result.counts()
    if as_json:
        summary = {
            "output": str(path),
            "territory": result.territory.name,
            "area_km2": round(result.territory.area_km2, 3),
            "buffer_m": result.territory.buffer_m,
            "layers": counts,
            "missing_nodes": result.osm.missing.missing_nodes,
            "reaches_border": border,
        }
        typer.echo(json.dumps(summary, ensure_ascii=False))
        return
    out_console.print(
        _t("Couches écrites dans [bold]{path}[/] :", path=path),
        highlight=False,
    )
    for name, n in counts.items():
        out_console.print(f"  {name:<15} {n:>7}", highlight=False)
    if border and border["homes"]:
        from qet_geo.constraints.indicators import SCORE_MIN

        out_console.print(
            _t(
                "Logements qui atteignent le bord de l'extrait en {minutes} minutes : {walk} à "
                "pied, {bike} à vélo, sur {homes} ; leurs chiffres à {minutes} minutes peuvent "
                "être coupés.",
                minutes=SCORE_MIN,
                walk=border["walk"],
                bike=border["bike"],
                homes=border["homes"],
            ),
            highlight=False,
        )


def _border_counts(result: NeighbourhoodLayers) -> dict[str, int] | None:
    """Homes of the territory whose 15-minute reach comes to the extract's edge, walk and bike;
    None when the territory has no residential building."""
    from qet_geo.constraints.access import border_homes
    from qet_geo.errors import ValidationError

    try:
        flags = {mode: border_homes(result, mode=mode) for mode in ("walk", "bike")}
    except ValidationError:  # no home in the territory: nothing to flag
        return None
    return {
        "homes": len(flags["walk"]),
        "walk": int(flags["walk"].sum()),
        "bike": int(flags["bike"].sum()),
    }


def access(
    osm_file: OsmFileArg,
    out: Annotated[Path, typer.Option("--out", help="Fichier de sortie (.parquet ou .gpkg).")],
    mode: ModeOpt = "walk",
    territory: TerritoryOpt = None,
    iris: IrisOpt = None,
    iris_layer: IrisLayerOpt = None,
    commune: CommuneOpt = None,
    communes_layer: CommunesLayerOpt = None,
    buffer: BufferOpt = 1000.0,
    census: CensusOpt = None,
    dem: DemOpt = None,
    gtfs: GtfsOpt = None,
    homes: Annotated[
        str, typer.Option(help="Logements : buildings (bâtiments) ou cells (carreaux 200 m).")
    ] = "buildings",
    as_json: Annotated[
        bool, typer.Option("--json", help="Affiche un résumé JSON (score 15 minutes, etc.).")
    ] = False,
) -> None:
    """Mesure, logement par logement, l'accès à pied ou à vélo aux équipements du quotidien."""
    suffix = out.suffix.lower()
    if suffix not in (".parquet", ".gpkg"):
        _fail(_t("--out {out} : utilisez un fichier .parquet ou .gpkg.", out=out))
    if mode not in ("walk", "bike"):
        _fail(_t("--mode {mode} : utilisez walk ou bike.", mode=mode))
    with _user_errors(), _progress(not as_json and sys.stderr.isatty()) as step:
        from qet_geo.constraints.access import score_distribution
        from qet_geo.layers import write_table
        from qet_geo.pipeline import build_neighbourhood

        area = _territory(territory, iris, iris_layer, commune, communes_layer, buffer)
        hood = build_neighbourhood(
            osm_file,
            territory=area,
            census=census,
            dem=dem,
            gtfs=gtfs,
            modes=(cast(Mode, mode),),
            homes=cast(Homes, homes),
            street_modes=(),  # the table's own mode only
            progress=step,
        )
        table = hood.access[cast(Mode, mode)]
        step("write")
        path = write_table(table, out, layer=f"access_{mode}")
        dist = score_distribution(table)
    from qet_geo.constraints.indicators import REACHES_BORDER, SCORE_MIN, nearest_min
    from qet_geo.taxonomy import CATEGORIES

    median_minutes = {
        c: round(float(table[nearest_min(c)].median()), 2)
        for c in CATEGORIES
        if nearest_min(c) in table and table[nearest_min(c)].notna().any()
    }
    summary = {
        "output": str(path),
        "mode": mode,
        "homes": len(table),
        "off_network": int(table["off_network"].sum()),
        "reaches_border": int(table[REACHES_BORDER].sum()),
        "weighted_score_15min": round(dist.attrs["weighted_mean"], 4),
        "score_15min_shares": {f"{k:.3f}": round(v, 4) for k, v in dist["share"].items()},
        "median_minutes": median_minutes,
    }
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False))
        return
    out_console.print(
        _t(
            "{n_table} logements mesurés ({mode}) : [bold]{path}[/]",
            n_table=len(table),
            mode=mode,
            path=path,
        ),
        highlight=False,
    )
    out_console.print(
        _t("Score {minutes} minutes moyen (pondéré) : ", minutes=SCORE_MIN)
        + f"{summary['weighted_score_15min']:.0%}",
        highlight=False,
    )
    if summary["reaches_border"]:
        out_console.print(
            _t(
                "{n_border} logement(s) sur {n_table} atteignent le bord de l'extrait en "
                "{minutes} minutes : leurs chiffres à {minutes} minutes peuvent être coupés "
                "(colonne {column}). Prenez un extrait plus large que le quartier pour les "
                "mesurer en entier.",
                n_border=summary["reaches_border"],
                n_table=len(table),
                minutes=SCORE_MIN,
                column=REACHES_BORDER,
            ),
            highlight=False,
        )
    for cat, minutes in median_minutes.items():
        out_console.print(f"  {cat:<20} {minutes:>6.1f} min " + _t("(médiane)"), highlight=False)


def isochrone(
    osm_file: OsmFileArg,
    at: Annotated[
        str, typer.Option("--at", help="Point(s) de départ LON,LAT (plusieurs : séparés par ;).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Fichier GeoJSON de sortie (WGS84).")],
    minutes: Annotated[str, typer.Option(help="Durées en minutes, séparées par des virgules.")] = (
        "5,10,15"
    ),
    mode: ModeOpt = "walk",
    dem: DemOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Affiche un résumé JSON.")] = False,
) -> None:
    """Dessine les isochrones à pied ou à vélo autour d'un ou plusieurs points, le long des rues."""
    try:
        coords = [[float(v) for v in p.split(",")] for p in at.split(";") if p.strip()]
        times = [float(m) for m in minutes.split(",") if m.strip()]
    except ValueError:
        _fail(_t("--at attend LON,LAT (ex. -3.36,47.75) et --minutes des nombres (ex. 5,10,15)."))
    if not coords or any(len(p) != 2 for p in coords) or not times:
        _fail(_t("--at attend LON,LAT (ex. -3.36,47.75)."))
    if mode not in ("walk", "bike"):
        _fail(_t("--mode {mode} : utilisez walk ou bike.", mode=mode))
    if out.suffix.lower() not in (".geojson", ".json"):
        _fail(_t("--out {out} : utilisez un fichier .geojson.", out=out))
    with _user_errors():
        from qet_geo.constraints.access import isochrones_from_extract
        from qet_geo.layers import write_table

        points = [(p[0], p[1]) for p in coords]
        shapes = isochrones_from_extract(
            osm_file, points, minutes=times, mode=cast(Mode, mode), dem=dem
        )
        path = write_table(shapes.to_crs(WGS84), out)
    rows = [
        {
            "point": int(r.point),
            "minutes": float(r.minutes),
            "area_km2": round(r.area_km2, 4),
            "reaches_border": bool(r.reaches_border),
        }
        for r in shapes.itertuples()
    ]
    if as_json:
        typer.echo(json.dumps({"output": str(path), "mode": mode, "isochrones": rows}))
        return
    out_console.print(
        _t("Isochrones écrites dans [bold]{path}[/] :", path=path),
        highlight=False,
    )
    for r in rows:
        cut = "  " + _t("(atteint le bord de l'extrait)") if r["reaches_border"] else ""
        out_console.print(
            f"  point {r['point']}  {r['minutes']:>4.0f} min  {r['area_km2']:.3f} km²{cut}",
            highlight=False,
        )
    if any(r["reaches_border"] for r in rows):
        out_console.print(
            _t(
                "Les isochrones marquées atteignent le bord de l'extrait : elles s'arrêtent là "
                "où s'arrêtent les données et peuvent être plus petites qu'en réalité. Prenez un "
                "extrait plus large autour des points."
            ),
            highlight=False,
        )
