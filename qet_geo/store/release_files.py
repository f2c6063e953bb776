"""A release as files: its figures as CSV rows, and the whole release as one GeoPackage.

A release (:mod:`qet_geo.store.releases`) is what the public reads of a diagnostic; these files
hold nothing else, only the figures it stored (:attr:`qet_geo.store.models.Release.figures`,
read through :meth:`~qet_geo.store.releases.Figures.from_json`), so the privacy rules applied
when it was published hold in them.

- :func:`release_rows` and :func:`release_csv`: the figures its page shows, one per row (the
  portal's CSV file, ``/q/{slug}/diagnostic/{year}.csv``);
- :func:`release_geopackage` (bytes) and :func:`write_release_geopackage` (a file, written
  atomically): one GeoPackage with the layers ``cells`` (the published 200 m cells, EPSG:2154,
  their published properties in lowercase columns), ``outline`` (the neighbourhood's territory,
  when it has one), the tables ``figures`` (the CSV's rows) and ``metadata`` (neighbourhood,
  year, release number and date, footprint scale, respondents, licence, language). Every layer
  and table has a ``synthetic`` column: a release of labelled-synthetic answers says so on
  every row.

Licences: what derives from OpenStreetMap (the built-constraint indicators,
:data:`qet_geo.constraints.indicators.INDICATORS`) is under the ODbL, the rest under the
Licence Ouverte; the ``licence`` column of each layer says which.

Examples
--------
>>> data = release_geopackage(session, release, lang="fr")  # doctest: +SKIP
>>> write_release_geopackage(session, release, "lorient-0.gpkg")  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from qet_geo.errors import ValidationError
from qet_geo.i18n import msg
from qet_geo.store.ingest import FOOTPRINT_SCALE
from qet_geo.store.models import Diagnostic, Neighbourhood, Release, territory_geometry
from qet_geo.store.releases import Figures
from qet_geo.surveys.schema import USAGE_LABELS, USAGES

__all__ = [
    "LICENCE_ODBL",
    "LICENCE_OPEN",
    "RELEASE_COLUMNS",
    "release_csv",
    "release_geopackage",
    "release_layers",
    "release_rows",
    "write_release_geopackage",
]

#: The columns of a release's rows (the CSV file and the GeoPackage's ``figures`` table).
RELEASE_COLUMNS = (
    "release",
    "section",
    "item",
    "label",
    "value",
    "unit",
    "french_average",
    "synthetic",
)
#: The licence of what the service computes from the surveys and the census (Etalab).
LICENCE_OPEN = "Licence Ouverte 2.0"
#: The licence of what derives from OpenStreetMap.
LICENCE_ODBL = "ODbL 1.0"
_KG = "kgCO2e/person/year"


def _lang(lang: str) -> str:
    return "en" if lang == "en" else "fr"


def _column_label(column: str, lang: str) -> str:
    from qet_geo.constraints.indicators import get_figure

    if column == "n_respondents":
        return msg("répondants").render(lang)
    return get_figure(column).label.render(lang)


def _zone(i: int, lang: str) -> str:
    return msg("Zone {n}", n=i).render(lang)


def _cell_columns(figures: Figures) -> list[str]:
    """The cells' published figures the page shows, in the features' order."""
    from qet_geo.constraints.indicators import FIGURES

    if not figures.features:
        return []
    return [
        c
        for c in (figures.features[0].get("properties") or {})
        if c == "n_respondents" or c in FIGURES or c.startswith("share_")
    ]


def _from_osm(column: str) -> bool:
    """Whether a cell's column derives from OpenStreetMap (a built-constraint indicator)."""
    from qet_geo.constraints.indicators import INDICATORS

    return column.removesuffix("_mean") in INDICATORS


def release_rows(figures: Figures, lang: str, *, release_number: int) -> list[list[Any]]:
    """The figures of a release that its page shows, one per row of :data:`RELEASE_COLUMNS`.

    Sections: ``respondents``, ``footprint`` (kgCO2e per person per year, rounded to 0.1;
    with the French average), ``reference_profile`` and ``own_profile`` (share of respondents,
    %, 0.1), ``cell`` (each published 200 m cell's figures, as the page's table, its item
    ``Zone n`` in the order of the cells). ``synthetic`` is ``yes`` on every row of a release
    of synthetic answers, else ``no``; an empty value is ``""``.
    """
    from qet_geo.constraints.indicators import get_figure

    lang = _lang(lang)
    synthetic = "yes" if figures.synthetic else "no"
    rows: list[list[Any]] = []

    def row(section: str, item: str, label: str, value: Any, unit: str, france: Any = "") -> None:
        rows.append([release_number, section, item, label, value, unit, france, synthetic])

    row("respondents", "n_respondents", msg("Répondants comptés").render(lang),
        figures.n_respondents, "")  # fmt: skip
    from qet_geo.analysis.footprint import french_averages

    french = french_averages() if figures.scale == FOOTPRINT_SCALE else {}
    for usage in USAGES:
        if usage in figures.footprints:
            france = french.get(usage)
            row(
                "footprint",
                usage,
                USAGE_LABELS[usage].render(lang),
                round(figures.footprints[usage], 1),
                _KG,
                "" if france is None else round(france, 1),
            )
    if "total" in figures.footprints:
        known = [french[u] for u in USAGES if u in french]
        total_france = round(sum(known), 1) if len(known) == len(USAGES) else ""
        row(
            "footprint",
            "total",
            msg("Total des six usages").render(lang),
            round(figures.footprints["total"], 1),
            _KG,
            total_france,
        )
    for key, share in sorted(figures.profile_shares.items(), key=lambda kv: str(kv[0])):
        name = msg("Profil {n}", n=int(key) + 1).render(lang) if key.isdigit() else key
        row("reference_profile", str(key), name, round(100 * share, 1), "%")
    for p in figures.own_profiles:
        own = p.get("share")
        row(
            "own_profile",
            str(p["number"]),
            msg("Profil {n}", n=int(p["number"]) + 1).render(lang),
            "" if own is None else round(100 * float(own), 1),
            "%",
        )
    columns = _cell_columns(figures)
    for i, feature in enumerate(figures.features, start=1):
        props = feature.get("properties") or {}
        zone = _zone(i, lang)
        for c in columns:
            v = props.get(c)
            if c == "n_respondents":
                row("cell", zone, _column_label(c, lang), "" if v is None else int(v), "")
            else:
                figure = get_figure(c)
                value = "" if v is None else round(float(v) * figure.scale, figure.decimals)
                row("cell", zone, _column_label(c, lang), value, "")
    return rows


def release_csv(figures: Figures, lang: str, *, release_number: int) -> str:
    """The rows of :func:`release_rows` as a CSV file (header first, CRLF line ends)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(RELEASE_COLUMNS)
    writer.writerows(release_rows(figures, lang, release_number=release_number))
    return out.getvalue()


# --------------------------------------------------------------------------------------------------
# the GeoPackage


def _number(value: Any) -> float | None:
    return None if value == "" or value is None else float(value)


def _frames(hood: Neighbourhood, diag: Diagnostic, release: Release, lang: str) -> dict[str, Any]:
    """The GeoPackage's layers and tables, by name, in the order they are written."""
    import geopandas as gpd
    import pandas as pd
    from shapely.geometry import MultiPolygon, Polygon, shape

    from qet_geo.crs import WGS84, WORK_CRS

    figures = Figures.from_json(release.figures)
    synthetic = bool(figures.synthetic)
    layers: dict[str, Any] = {}
    # the cells: their published properties only, as the release stored them
    if figures.features:
        names: dict[str, str] = {}
        for feature in figures.features:
            for key in feature.get("properties") or {}:
                lower = str(key).lower()
                if lower not in ("zone", "synthetic", "licence", "geometry", "fid"):
                    names.setdefault(str(key), lower)
        osm = any(_from_osm(k) for k in names.values())
        records = []
        for i, feature in enumerate(figures.features, start=1):
            props = feature.get("properties") or {}
            records.append(
                {
                    "zone": _zone(i, lang),
                    **{lower: props.get(key) for key, lower in names.items()},
                    "synthetic": synthetic,
                    "licence": LICENCE_ODBL if osm else LICENCE_OPEN,
                }
            )
        geometries = [shape(f["geometry"]) if f.get("geometry") else None for f in figures.features]
        cells = gpd.GeoDataFrame(records, geometry=geometries, crs=WGS84).to_crs(WORK_CRS)
        layers["cells"] = cells
    # the outline, when the neighbourhood has one (EPSG:2154 already)
    territory = territory_geometry(hood)
    if territory is not None and not territory.is_empty:
        if isinstance(territory, Polygon):
            territory = MultiPolygon([territory])
        layers["outline"] = gpd.GeoDataFrame(
            {
                "neighbourhood": [hood.name],
                "synthetic": [synthetic],
                "licence": [LICENCE_OPEN],
            },
            geometry=[territory],
            crs=WORK_CRS,
        )
    # the CSV's rows, numbers as numbers
    rows = release_rows(figures, lang, release_number=release.number)
    table = pd.DataFrame(rows, columns=list(RELEASE_COLUMNS))
    table["value"] = [_number(v) for v in table["value"]]
    table["french_average"] = [_number(v) for v in table["french_average"]]
    table["synthetic"] = synthetic
    osm_labels = {_column_label(c, lang) for c in _cell_columns(figures) if _from_osm(c)}
    table["licence"] = [
        LICENCE_ODBL if r[1] == "cell" and r[3] in osm_labels else LICENCE_OPEN for r in rows
    ]
    layers["figures"] = table
    used = sorted({str(v) for frame in layers.values() for v in frame["licence"]})
    created = release.created_at
    layers["metadata"] = pd.DataFrame(
        {
            "neighbourhood": [hood.name],
            "year": [int(diag.year)],
            "release": [int(release.number)],
            "release_date": [created.date().isoformat() if created is not None else None],
            "footprint_scale": [figures.scale],
            "n_respondents": [int(figures.n_respondents)],
            "synthetic": [synthetic],
            "licence": [" + ".join(used)],
            "attribution": [
                msg("© les contributeurs d'OpenStreetMap").render(lang)
                if LICENCE_ODBL in used
                else ""
            ],
            "language": [lang],
            "note": [
                msg("Réponses synthétiques (démonstration), pas d'habitants réels.").render(lang)
                if synthetic
                else ""
            ],
        }
    )
    return layers


def _write(layers: dict[str, Any], path: Path) -> None:
    import pyogrio

    for name, frame in layers.items():
        pyogrio.write_dataframe(frame, path, layer=name, driver="GPKG")


def _parts(session: Session, release: Release) -> tuple[Neighbourhood, Diagnostic]:
    diag = session.get_one(Diagnostic, release.diagnostic_id)
    hood = session.get_one(Neighbourhood, diag.neighbourhood_id)
    return hood, diag


def write_release_geopackage(
    session: Session, release: Release, path: str | os.PathLike[str], *, lang: str = "fr"
) -> Path:
    """Write a release as one GeoPackage at ``path``, atomically (replacing any file there).

    Parameters
    ----------
    session
        A session of the store holding the release.
    release
        The release to write: its stored figures only (a release is small: a few hundred cells).
    path
        The file to write; its folder must exist. The file is written beside it under another
        name, then moved in place: a reader never sees half a file.
    lang
        fr, en: the language of the labels.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    ValidationError
        The folder of ``path`` does not exist.
    """
    target = Path(path)
    if not target.parent.is_dir():
        raise ValidationError(
            msg(
                "Le dossier {folder} n'existe pas : créez-le ou écrivez le GeoPackage ailleurs.",
                folder=str(target.parent),
            )
        )
    hood, diag = _parts(session, release)
    layers = _frames(hood, diag, release, _lang(lang))
    folder = Path(tempfile.mkdtemp(prefix=".qet-gpkg-", dir=target.parent))
    try:
        written = folder / "release.gpkg"
        _write(layers, written)
        os.replace(written, target)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return target


def release_geopackage(session: Session, release: Release, *, lang: str = "fr") -> bytes:
    """A release as one GeoPackage, in memory (see :func:`write_release_geopackage`)."""
    with tempfile.TemporaryDirectory(prefix="qet-gpkg-") as folder:
        path = write_release_geopackage(session, release, Path(folder) / "release.gpkg", lang=lang)
        return path.read_bytes()


def release_layers(session: Session, release: Release, *, lang: str = "fr") -> dict[str, Any]:
    """The layers and tables of a release's GeoPackage, by name (``cells``, ``outline``,
    ``figures``, ``metadata``), as (Geo)DataFrames: for the network's open data, which gathers
    every published release's."""
    hood, diag = _parts(session, release)
    return _frames(hood, diag, release, _lang(lang))
