"""The network's open data: every published aggregate in bulk, with a data dictionary.

What the public pages show, as files a data user loads at once (issue 17, "Open data"):

- ``quartiers``: the national comparison, one row per published neighbourhood (the public rows
  of ``GET /national``, given by the caller: this module does not compute them again), with its
  portal's address;
- ``chiffres``: every figure of every campaign's latest release of the published
  neighbourhoods, as each portal's CSV file gives them (:func:`~qet_geo.store.release_files.
  release_rows`), with the neighbourhood and the year;
- ``carreaux`` and ``contours`` (GeoPackage layers, EPSG:2154): the published 200 m cells of those
  releases (:func:`~qet_geo.store.release_files.release_layers`) and the neighbourhoods' outlines;
- ``projets``: the published project sheets of the network (:func:`~qet_geo.store.library.
  library_projects`), with their expected effect;
- ``dictionnaire``: each file's columns, what they mean, their unit and licence.

Each table is written as CSV (UTF-8) and Parquet; the spatial ones and every table go in one
GeoPackage; all of it, with the licence and the dictionary, in one zip. Nothing is read that a
public page does not already show: releases are protected when they are made (no figure of 1 to
10 respondents), unpublished neighbourhoods and sheets are left out, synthetic answers are
flagged on every row (``synthetic``). Licences: Licence Ouverte 2.0 for what comes from the
surveys and the census, ODbL 1.0 for what derives from OpenStreetMap (the built-constraint
indicators), each column's in the dictionary.
"""

from __future__ import annotations

import datetime
import io
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from qet_geo.i18n import Msg, msg
from qet_geo.store.models import Diagnostic, Neighbourhood, territory_geometry
from qet_geo.store.release_files import (
    LICENCE_ODBL,
    LICENCE_OPEN,
    RELEASE_COLUMNS,
    release_layers,
    release_rows,
)
from qet_geo.store.releases import Figures, latest_release

__all__ = [
    "OPEN_DATA_TABLES",
    "OpenData",
    "network_open_data",
    "open_data_files",
    "open_data_titles",
]

#: The tables of the open data, in the order the page lists them.
OPEN_DATA_TABLES: tuple[str, ...] = ("quartiers", "chiffres", "carreaux", "contours", "projets")

_TITLES: dict[str, Msg] = {
    "quartiers": msg("La comparaison nationale des quartiers publiés"),
    "chiffres": msg("Tous les chiffres publiés des diagnostics"),
    "carreaux": msg("Les carreaux de 200 m publiés"),
    "contours": msg("Les contours des quartiers publiés"),
    "projets": msg("Les fiches projets publiées"),
}

#: Descriptions of the columns that are not derived from a registry.
_COLUMNS: dict[str, tuple[Msg, str]] = {
    "neighbourhood_id": (msg("Identifiant du quartier sur la plateforme"), ""),
    "neighbourhood": (msg("Nom du quartier"), ""),
    "portal": (msg("Adresse du portail public du quartier"), ""),
    "year": (msg("Année de la campagne d'enquête (0 : le premier diagnostic)"), ""),
    "n_respondents": (msg("Répondants de la publication"), "personnes"),
    "synthetic": (msg("Vrai : réponses synthétiques d'une démonstration, pas une enquête"), ""),
    "compared": (msg("Vrai : comparé aux autres quartiers (même échelle, même nature)"), ""),
    "scale": (msg("Échelle des empreintes (ngc : NosGestesClimat)"), ""),
    "type": (msg("Type de quartier selon ses contraintes bâties (1, 2, 3…)"), ""),
    "rank_total_kgco2e": (msg("Rang de l'empreinte totale (1 : la plus faible)"), ""),
    "release": (msg("Numéro de la publication"), ""),
    "section": (msg("Partie du diagnostic"), ""),
    "item": (msg("Clé du chiffre dans sa partie"), ""),
    "label": (msg("Ce que le chiffre mesure"), ""),
    "value": (msg("Valeur"), "voir unit"),
    "unit": (msg("Unité de la valeur"), ""),
    "french_average": (msg("Moyenne française (NosGestesClimat)"), "voir unit"),
    "licence": (msg("Licence de la ligne"), ""),
    "zone": (msg("Nom du carreau dans la publication"), ""),
    "title": (msg("Titre de la fiche projet"), ""),
    "theme": (msg("Thème de la fiche projet"), ""),
    "usage": (msg("Usage visé (clé du questionnaire SU)"), ""),
    "status": (msg("Statut de la fiche projet"), ""),
    "budget_eur": (msg("Budget"), "EUR"),
    "expected_kgco2e_per_year": (msg("Effet attendu de la fiche"), "kgCO2e/an"),
    "measured": (msg("Vrai : un changement de l'usage a été mesuré (deux diagnostics)"), ""),
    "sheet": (msg("Adresse de la fiche projet"), ""),
    "geometry": (msg("Géométrie (EPSG:2154, Lambert-93)"), "m"),
}


@dataclass
class OpenData:
    """The open data's tables, by name (:data:`OPEN_DATA_TABLES`), and the dictionary."""

    tables: dict[str, pd.DataFrame]
    dictionary: pd.DataFrame
    made: datetime.date


def _published(session: Session) -> list[Neighbourhood]:
    return list(
        session.scalars(
            select(Neighbourhood)
            .where(Neighbourhood.published.is_(True), Neighbourhood.slug.is_not(None))
            .order_by(Neighbourhood.id)
        )
    )


def _releases(session: Session, hood: Neighbourhood) -> list[tuple[Diagnostic, Any]]:
    diags = session.scalars(
        select(Diagnostic)
        .where(Diagnostic.neighbourhood_id == hood.id)
        .order_by(Diagnostic.year, Diagnostic.id)
    )
    out = []
    for diag in diags:
        release = latest_release(session, diag.id)
        if release is not None:
            out.append((diag, release))
    return out


def _describe(table: str, column: str, lang: str) -> tuple[str, str, str]:
    """What a column means, its unit and licence."""
    from qet_geo.constraints.indicators import INDICATORS
    from qet_geo.surveys.schema import USAGE_LABELS

    if column in INDICATORS or column.removesuffix("_mean") in INDICATORS:
        ind = INDICATORS[column.removesuffix("_mean")]
        return ind.label.render(lang), ind.symbol, LICENCE_ODBL
    if column.startswith("kgco2e_"):
        usage = column.removeprefix("kgco2e_")
        label = (
            USAGE_LABELS[usage].render(lang) if usage in USAGE_LABELS else msg("Total").render(lang)
        )
        return (
            msg("Empreinte moyenne par personne : {usage}", usage=label).render(lang),
            "kgCO2e/an",
            LICENCE_OPEN,
        )
    if column.startswith("mix_"):
        return (
            msg("Part du profil d'usages de référence {k}", k=column.removeprefix("mix_")).render(
                lang
            ),
            "0-1",
            LICENCE_OPEN,
        )
    if column.startswith("share_"):
        return msg("Part des répondants du carreau").render(lang), "0-1", LICENCE_OPEN
    if column in _COLUMNS:
        text, unit = _COLUMNS[column]
        licence = LICENCE_ODBL if table == "contours" and column == "geometry" else LICENCE_OPEN
        return text.render(lang), unit, licence
    return column, "", LICENCE_OPEN


def network_open_data(
    session: Session,
    national: pd.DataFrame,
    *,
    lang: str = "fr",
    projects: list[Any] | None = None,
    today: datetime.date | None = None,
) -> OpenData:
    """The open data of the network's store.

    Parameters
    ----------
    session
        A session of the store.
    national
        The public national comparison, one row per published neighbourhood with a release
        (columns ``neighbourhood_id``, ``neighbourhood``, ``year``, ``n_respondents``,
        ``synthetic``, ``compared``, ``scale``, ``kgco2e_<usage>``, ``mix_<k>``, the
        constraints, ``type``, ``rank_total_kgco2e``), as ``GET /national`` gives it.
    lang
        fr or en: the labels' language.
    projects
        The published project sheets (:class:`~qet_geo.store.library.LibraryProject`); None
        reads them with :func:`~qet_geo.store.library.library_projects` (no types, no région).
    today
        The date written in the read-me.
    """
    import geopandas as gpd

    from qet_geo.crs import WORK_CRS

    hoods = _published(session)
    portal = {h.id: f"/q/{h.slug}" for h in hoods}
    quartiers = national.copy()
    quartiers.insert(2, "portal", [portal.get(int(i), "") for i in quartiers["neighbourhood_id"]])
    figures, cells, outlines = [], [], []
    for hood in hoods:
        synthetic_hood = False
        for diag, release in _releases(session, hood):
            stored = Figures.from_json(release.figures)
            synthetic_hood = synthetic_hood or bool(stored.synthetic)
            rows = pd.DataFrame(
                release_rows(stored, lang, release_number=release.number),
                columns=list(RELEASE_COLUMNS),
            )
            rows.insert(0, "year", int(diag.year))
            rows.insert(0, "neighbourhood", hood.name)
            rows.insert(0, "neighbourhood_id", hood.id)
            figures.append(rows)
            layer = release_layers(session, release, lang=lang).get("cells")
            if layer is not None and not layer.empty:
                layer = layer.copy()
                layer.insert(0, "release", int(release.number))
                layer.insert(0, "year", int(diag.year))
                layer.insert(0, "neighbourhood", hood.name)
                layer.insert(0, "neighbourhood_id", hood.id)
                cells.append(layer)
        territory = territory_geometry(hood)
        if territory is not None and not territory.is_empty:
            outlines.append(
                {
                    "neighbourhood_id": hood.id,
                    "neighbourhood": hood.name,
                    "portal": portal[hood.id],
                    "synthetic": synthetic_hood,
                    "licence": LICENCE_OPEN,
                    "geometry": territory,
                }
            )
    chiffres = (
        pd.concat(figures, ignore_index=True)
        if figures
        else pd.DataFrame(columns=["neighbourhood_id", "neighbourhood", "year", *RELEASE_COLUMNS])
    )
    chiffres["value"] = pd.to_numeric(chiffres["value"], errors="coerce")
    chiffres["french_average"] = pd.to_numeric(chiffres["french_average"], errors="coerce")
    chiffres["licence"] = LICENCE_OPEN
    carreaux = (
        gpd.GeoDataFrame(pd.concat(cells, ignore_index=True), crs=WORK_CRS)
        if cells
        else gpd.GeoDataFrame(
            {"neighbourhood_id": [], "neighbourhood": [], "year": [], "release": []},
            geometry=[],
            crs=WORK_CRS,
        )
    )
    contours = gpd.GeoDataFrame(
        outlines or {"neighbourhood_id": [], "neighbourhood": [], "geometry": []},
        geometry="geometry",
        crs=WORK_CRS,
    )
    if projects is None:
        from qet_geo.store.library import library_projects

        projects = library_projects(session)
    projets = pd.DataFrame(
        [
            {
                "neighbourhood_id": p.hood_id,
                "neighbourhood": p.hood_name,
                "title": p.title,
                "theme": p.theme,
                "usage": p.usage or "",
                "status": p.status,
                "budget_eur": p.budget_eur,
                "expected_kgco2e_per_year": _effect(session, p.id),
                "measured": bool(p.measured),
                "synthetic": bool(p.synthetic),
                "sheet": f"/q/{p.slug}/projets/{p.id}",
                "licence": LICENCE_OPEN,
            }
            for p in projects
        ],
        columns=[
            "neighbourhood_id",
            "neighbourhood",
            "title",
            "theme",
            "usage",
            "status",
            "budget_eur",
            "expected_kgco2e_per_year",
            "measured",
            "synthetic",
            "sheet",
            "licence",
        ],
    )
    tables = {
        "quartiers": quartiers,
        "chiffres": chiffres,
        "carreaux": carreaux,
        "contours": contours,
        "projets": projets,
    }
    entries = []
    for name, table in tables.items():
        for column in table.columns:
            text, unit, licence = _describe(name, str(column), lang)
            entries.append(
                {
                    "table": name,
                    "column": str(column),
                    "meaning": text,
                    "unit": unit,
                    "licence": licence,
                }
            )
    return OpenData(tables, pd.DataFrame(entries), today or datetime.date.today())


def _effect(session: Session, project_id: int) -> float | None:
    from qet_geo.store.models import Project

    project = session.get(Project, project_id)
    value = (project.effect or {}).get("value") if project is not None else None
    return float(value) if isinstance(value, int | float) else None


def _csv(frame: pd.DataFrame) -> bytes:
    plain = frame.drop(columns="geometry") if "geometry" in frame.columns else frame
    if "geometry" in frame.columns:
        plain = plain.assign(wkt=[g.wkt if g is not None else "" for g in frame.geometry])
    return plain.to_csv(index=False).encode("utf-8")


def _parquet(frame: pd.DataFrame) -> bytes:
    out = io.BytesIO()
    frame.to_parquet(out, index=False)
    return out.getvalue()


def _geopackage(data: OpenData) -> bytes:
    import pyogrio

    folder = Path(tempfile.mkdtemp(prefix="qet-open-"))
    try:
        path = folder / "reseau.gpkg"
        for name in OPEN_DATA_TABLES:
            frame = data.tables[name]
            if name in ("carreaux", "contours") and frame.empty:
                continue
            pyogrio.write_dataframe(frame, path, layer=name, driver="GPKG")
        pyogrio.write_dataframe(data.dictionary, path, layer="dictionnaire", driver="GPKG")
        return path.read_bytes()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


_LICENCE = """Données ouvertes du réseau Quartiers en Transitions ({made})

Licence Ouverte 2.0 (Etalab) : chiffres des enquêtes et du recensement, fiches projets.
ODbL 1.0 (Open Database License) : indicateurs de contraintes bâties, dérivés d'OpenStreetMap
(© les contributeurs d'OpenStreetMap). Le fichier dictionnaire.csv donne la licence de
chaque colonne. Les lignes « synthetic » vraies viennent de réponses synthétiques
(démonstration) : ce ne sont pas des résultats d'enquête.

Open data of the Quartiers en Transitions network: Licence Ouverte 2.0 for the survey and
census figures and the project sheets; ODbL 1.0 for the built-constraint indicators derived
from OpenStreetMap (© OpenStreetMap contributors). dictionnaire.csv gives each column's licence.
Rows whose "synthetic" is true come from synthetic answers (a demonstration), not surveys.
"""


def open_data_files(data: OpenData) -> dict[str, bytes]:
    """Every file of the open data, by name: each table as ``.csv`` and ``.parquet``
    (the spatial ones with their geometry as WKT in the CSV), ``reseau.gpkg``,
    ``dictionnaire.csv``, and ``donnees-ouvertes.zip`` holding them all with ``LICENCE.txt``."""
    files: dict[str, bytes] = {}
    for name in OPEN_DATA_TABLES:
        frame = data.tables[name]
        files[f"{name}.csv"] = _csv(frame)
        files[f"{name}.parquet"] = _parquet(frame)
    files["reseau.gpkg"] = _geopackage(data)
    files["dictionnaire.csv"] = _csv(data.dictionary)
    out = io.BytesIO()
    stamp = (data.made.year, data.made.month, data.made.day, 0, 0, 0)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in [
            *files.items(),
            ("LICENCE.txt", _LICENCE.format(made=data.made.isoformat()).encode("utf-8")),
        ]:
            info = zipfile.ZipInfo(f"donnees-ouvertes/{name}", date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, body)
    files["donnees-ouvertes.zip"] = out.getvalue()
    return files


def open_data_titles() -> dict[str, Msg]:
    """What each table is, in words."""
    return dict(_TITLES)
