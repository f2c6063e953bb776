"""A demonstration network built from the shared OSM extracts, labelled synthetic everywhere.

:func:`build_demo_network` does, for each of five neighbourhoods (:data:`DEMO_NEIGHBOURHOODS`:
Lorient's centre split in two, Nantes' hypercentre, Pont-de-Veyle, Saudron), what a pilot team
and the service do: the neighbourhood and its outline (a polygon inside its extract), the
extract made the neighbourhood's (:func:`qet_geo.store.jobs.store_extract`), labelled-synthetic
SU, MdV/EdV and NosGestesClimat answers drawn on the extract's real buildings
(:func:`qet_geo.surveys.synthetic.synthesize_answers`, written as ``qet survey synthesize``
writes them) and stored (:func:`qet_geo.store.ingest.ingest_survey`), the analysis job
(:func:`qet_geo.store.jobs.run_analysis`: profiles and per-home access), a release
(:func:`qet_geo.store.releases.create_release`), the public address; then the national
reference profiles are fitted (:func:`qet_geo.store.jobs.fit_national_profiles`) and published.
Every campaign, release and profile is labelled synthetic. ``qet store demo-network`` runs it.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine

__all__ = [
    "DEMO_NEIGHBOURHOODS",
    "DemoNeighbourhood",
    "DemoNetworkResult",
    "build_demo_network",
]


@dataclass(frozen=True)
class DemoNeighbourhood:
    """One neighbourhood of the demonstration network.

    ``bounds`` is its outline (west, south, east, north, WGS84 degrees), inside the bounds of
    ``extract`` (a file of the shared data's ``osm/`` folder); ``urban_category`` the ENTD
    category the synthetic mobility is calibrated on (B city centre, I isolated town, R rural).
    """

    slug: str
    name: str
    commune: str
    extract: str
    bounds: tuple[float, float, float, float]
    urban_category: str
    seed: int


#: Lorient's demonstration outline (data/osm/lorient_centre.geojson) split at -3.3597.
DEMO_NEIGHBOURHOODS: tuple[DemoNeighbourhood, ...] = (
    DemoNeighbourhood(
        "lorient-ouest", "Lorient centre ouest", "Lorient", "lorient_centre.osm.gz",
        (-3.3650, 47.7435, -3.3597, 47.7550), "B", 11,
    ),
    DemoNeighbourhood(
        "lorient-est", "Lorient centre est", "Lorient", "lorient_centre.osm.gz",
        (-3.3597, 47.7435, -3.3545, 47.7550), "B", 12,
    ),
    DemoNeighbourhood(
        "nantes-hypercentre", "Nantes hypercentre", "Nantes", "nantes_hypercentre.osm.pbf",
        (-1.5566, 47.2135, -1.5512, 47.2155), "B", 13,
    ),
    DemoNeighbourhood(
        "pont-de-veyle", "Pont-de-Veyle", "Pont-de-Veyle", "pont_de_veyle.osm.gz",
        (4.8800, 46.2590, 4.8950, 46.2700), "I", 14,
    ),
    DemoNeighbourhood(
        "saudron", "Saudron", "Saudron", "saudron_rural.osm.gz",
        (5.2580, 48.5250, 5.2780, 48.5400), "R", 15,
    ),
)  # fmt: skip


@dataclass(frozen=True)
class DemoNetworkResult:
    """What :func:`build_demo_network` stored: neighbourhood ids by slug, their diagnostics and
    releases' respondents, the national profiles, and the wall time in seconds."""

    neighbourhoods: dict[str, int]
    diagnostics: dict[str, int]
    respondents: dict[str, int]
    n_national_profiles: int
    seconds: float
    synthetic: bool = True
    notes: list[str] = field(default_factory=list)


def _outline(bounds: tuple[float, float, float, float]) -> Any:
    from qet_geo.store.jobs import territory_from_geojson

    west, south, east, north = bounds
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return territory_from_geojson({"type": "Polygon", "coordinates": [ring]})


def _survey_files(
    extract: Path, territory: Any, spec: DemoNeighbourhood, folder: Path, n: int
) -> dict[str, bytes]:
    """SU, MdV/EdV and NGC files of labelled-synthetic answers, as ``qet survey synthesize``
    writes them, on the extract's residential buildings inside the territory."""
    from qet_geo.cli.synth import _write, _write_table
    from qet_geo.pipeline import build_neighbourhood
    from qet_geo.surveys.synthetic import synthesize_answers
    from qet_geo.surveys.synthetic_others import synthetic_mdv, synthetic_ngc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hood = build_neighbourhood(extract, territory=territory, modes=("walk",))
        access = hood.access["walk"]
        answers = synthesize_answers(
            hood.layers, n, seed=spec.seed, access=access, urban_category=spec.urban_category
        )
        su = _write(answers, folder / f"{spec.slug}_su.csv")
        mdv = synthetic_mdv(access, n=max(n * 2 // 3, 11), n_planted=0, seed=spec.seed)
        mdv_path = _write_table(mdv.drop(columns=["plant"]), folder / f"{spec.slug}_mdv.csv")
        ngc = synthetic_ngc(su, share=0.8, seed=spec.seed)
        ngc_path = _write_table(ngc, folder / f"{spec.slug}_ngc.csv")
    return {"su": su.read_bytes(), "mdv": mdv_path.read_bytes(), "ngc": ngc_path.read_bytes()}


def build_demo_network(
    engine: Engine,
    *,
    osm_dir: str | PathLike[str],
    shared_data: str | PathLike[str],
    n_answers: int = 80,
    neighbourhoods: tuple[DemoNeighbourhood, ...] = DEMO_NEIGHBOURHOODS,
) -> DemoNetworkResult:
    """Build the demonstration network in a store: five published neighbourhoods, each with one
    released campaign of labelled-synthetic answers on its extract's real buildings, and the
    published national profiles fitted on them.

    Parameters
    ----------
    engine
        The store (its schema created).
    osm_dir
        The service's OSM folder (``QET_OSM_DIR``): the extracts are copied there and the
        analysis keeps its per-home access tables beside them.
    shared_data
        The shared data folder (``QET_SHARED_DATA``): the extracts are read from its ``osm/``,
        and the releases compare their sample with its census tables.
    n_answers
        Synthetic SU answers per neighbourhood (11 at least; MdV/EdV: two thirds of them, NGC:
        80 % of the SU respondents).
    neighbourhoods
        The neighbourhoods to build (their slugs must be free).

    Returns
    -------
    DemoNetworkResult

    Raises
    ------
    ValidationError
        Fewer than 11 answers, or a slug already taken.
    InputFileError, DataCoverageError, DisclosureError
        An extract missing or not covering its outline; a release refused.
    """
    import time

    from qet_geo.errors import ValidationError
    from qet_geo.i18n import msg
    from qet_geo.inputs.territory import Territory
    from qet_geo.store.ingest import ingest_survey
    from qet_geo.store.jobs import fit_national_profiles, run_analysis, store_extract
    from qet_geo.store.models import (
        Diagnostic,
        Neighbourhood,
        Profile,
        add_neighbourhood,
        extract_path,
        session_scope,
    )
    from qet_geo.store.releases import create_release

    started = time.perf_counter()
    if n_answers < 11:
        raise ValidationError(
            msg("n_answers doit valoir au moins 11, reçu {n_answers}.", n_answers=n_answers)
        )
    folder = Path(osm_dir)
    folder.mkdir(parents=True, exist_ok=True)
    sources = Path(shared_data) / "osm"
    ids: dict[str, int] = {}
    diagnostics: dict[str, int] = {}
    respondents: dict[str, int] = {}
    with session_scope(engine) as s:
        taken = {
            str(slug)
            for (slug,) in s.query(Neighbourhood.slug).filter(Neighbourhood.slug.isnot(None))
        }
    clash = sorted(taken & {spec.slug for spec in neighbourhoods})
    if clash:
        raise ValidationError(
            msg(
                "ces adresses de quartier sont déjà prises : {slugs} ; utilisez une base neuve.",
                slugs=", ".join(clash),
            )
        )
    with tempfile.TemporaryDirectory(prefix="qet-demo-") as tmp:
        for spec in neighbourhoods:
            territory = _outline(spec.bounds)
            with session_scope(engine) as s:
                hood = add_neighbourhood(
                    s, name=spec.name, commune=spec.commune, territory_wkt=territory.wkt
                )
                diag = Diagnostic(neighbourhood_id=hood.id, year=0, label="Démonstration")
                s.add(diag)
                s.flush()
                ids[spec.slug], diagnostics[spec.slug] = hood.id, diag.id
            source = sources / spec.extract
            suffix = "".join(source.suffixes[-2:])
            upload = folder / f".demo-{ids[spec.slug]}{suffix}"
            shutil.copyfile(source, upload)
            try:
                store_extract(engine, ids[spec.slug], upload, osm_dir=folder)
            finally:
                upload.unlink(missing_ok=True)
            with session_scope(engine) as s:
                name = s.get(Neighbourhood, ids[spec.slug]).osm_extract  # type: ignore[union-attr]
            area = Territory(name=spec.name, geometry=territory, source="demo")
            files = _survey_files(extract_path(folder, name), area, spec, Path(tmp), n_answers)
            for kind in ("su", "mdv", "ngc"):
                ingest_survey(engine, diagnostics[spec.slug], files[kind], kind=kind)
            result = run_analysis(engine, diagnostics[spec.slug], osm_dir=folder)
            if result is None:
                with session_scope(engine) as s:
                    failed = s.get(Diagnostic, diagnostics[spec.slug])
                    reason = (failed.job_message or {}).get("fr", "") if failed else ""
                raise ValidationError(
                    msg("l'analyse de {name} a échoué : {reason}", name=spec.name, reason=reason)
                )
            made = create_release(
                engine, diagnostics[spec.slug], osm_dir=folder, shared_data=shared_data
            )
            respondents[spec.slug] = made.n_respondents
            with session_scope(engine) as s:
                s.execute(
                    update(Neighbourhood)
                    .where(Neighbourhood.id == ids[spec.slug])
                    .values(slug=spec.slug, published=True)
                )
    national = fit_national_profiles(engine)
    with session_scope(engine) as s:
        s.execute(update(Profile).where(Profile.scope == "national").values(published=True))
    return DemoNetworkResult(
        neighbourhoods=ids,
        diagnostics=diagnostics,
        respondents=respondents,
        n_national_profiles=len(national.profiles),
        seconds=round(time.perf_counter() - started, 1),
        synthetic=national.synthetic,
    )
