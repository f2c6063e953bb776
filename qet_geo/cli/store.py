"""The ``qet store`` commands: the service's work on its store, from the command line.

Registered by :mod:`qet_geo.cli.main` as ``app.add_typer(store_app, name="store")``::

    qet store analyse 12 --osm-dir extraits/      # what POST /diagnostics/12/run does
    qet store analyse 12 --census carreaux.gpkg   # homes weigh their inhabitants
    qet store national-profiles                   # what POST /national/profiles does
    qet store release 12                          # what POST /diagnostics/12/releases does

Thin: each command calls the one library function the service's job or route calls
(:func:`qet_geo.store.jobs.run_analysis`, :func:`qet_geo.store.jobs.fit_national_profiles`,
:func:`qet_geo.store.releases.create_release`), on the
database of ``--database-url`` (``QET_DATABASE_URL``, a SQLite file by default).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from qet_geo.cli._common import _fail, _state, _t, _user_errors, out_console

store_app = typer.Typer(
    help="Travaux du service sur sa base : analyse d'un diagnostic, profils nationaux, "
    "publication.",
    no_args_is_help=True,
)

DatabaseOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="QET_DATABASE_URL",
        help="Base de données : fichier SQLite (défaut sqlite:///qet.db) ou postgresql://… "
        "(PostGIS).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Sortie JSON.")]


OsmDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--osm-dir",
        envvar="QET_OSM_DIR",
        help="Dossier des extraits OSM des quartiers (indicateurs de contraintes).",
    ),
]


@store_app.command("analyse")
def analyse(
    diagnostic: Annotated[int, typer.Argument(min=1, help="Identifiant du diagnostic.")],
    database_url: DatabaseOpt = None,
    osm_dir: OsmDirOpt = None,
    census: Annotated[
        Path | None,
        typer.Option(
            envvar="QET_CENSUS_GRID",
            help="Grille INSEE de 200 m avec population (celle du service) : les logements "
            "pèsent alors leurs habitants (sinon, ou hors de la grille, leur surface de "
            "plancher résidentielle).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Analyser un diagnostic : profils d'usages et indicateurs de contraintes, enregistrés."""
    with _user_errors():
        from sqlalchemy.orm import sessionmaker

        from qet_geo.store.jobs import run_analysis
        from qet_geo.store.models import Diagnostic, create_schema, make_engine

        engine = make_engine(database_url)
        create_schema(engine)
        result = run_analysis(engine, diagnostic, osm_dir=osm_dir, census=census)
        with sessionmaker(engine)() as session:
            diag = session.get(Diagnostic, diagnostic)
            message = (diag.job_message if diag is not None else None) or {}
            synthetic = bool(diag is not None and diag.synthetic)
        engine.dispose()
    lang = _state["lang"]
    if result is None:
        _fail(message.get(lang) or _t("l'analyse a échoué."))
    if as_json:
        out_console.print_json(
            json.dumps(
                {
                    "diagnostic_id": result.diagnostic_id,
                    "n_answers": result.n_answers,
                    "n_profiles": result.n_profiles,
                    "n_zones": result.n_zones,
                    "n_indicators": result.n_indicators,
                    "weights": result.weights,
                    "notes": [n[lang] for n in result.notes],
                    "synthetic": synthetic,
                }
            )
        )
        return
    out_console.print(
        _t(
            "Diagnostic {diagnostic} : {n_profiles} profils enregistrés ({n_answers} "
            "réponses), {n_indicators} indicateurs sur {n_zones} carreaux.",
            diagnostic=diagnostic,
            n_profiles=result.n_profiles,
            n_answers=result.n_answers,
            n_indicators=result.n_indicators,
            n_zones=result.n_zones,
        ),
        highlight=False,
    )
    if synthetic:
        out_console.print(
            _t(
                "[bold]Réponses SYNTHÉTIQUES[/] : ce diagnostic est une démonstration, pas un "
                "résultat d'enquête."
            ),
            highlight=False,
        )
    for note in result.notes:
        out_console.print(note[lang], highlight=False)


@store_app.command("national-profiles")
def national_profiles(database_url: DatabaseOpt = None, as_json: JsonOpt = False) -> None:
    """Ajuster et enregistrer les profils de référence nationaux sur les réponses du réseau."""
    with _user_errors():
        from qet_geo.store.jobs import fit_national_profiles
        from qet_geo.store.models import create_schema, make_engine

        engine = make_engine(database_url)
        create_schema(engine)
        result = fit_national_profiles(engine)
        engine.dispose()
    profiles = [
        {
            "number": p.number,
            "share": round(p.share or 0.0, 4),
            "centre_levels": {u: round(v + 1.0, 3) for u, v in p.centre.items()},
        }
        for p in result.profiles
    ]
    if as_json:
        out_console.print_json(
            json.dumps(
                {
                    "n_neighbourhoods": result.n_neighbourhoods,
                    "n_answers": result.n_answers,
                    "n_reassigned": result.n_reassigned,
                    "profiles": profiles,
                    "synthetic": result.synthetic,
                    "synthetic_left_out": result.synthetic_left_out,
                }
            )
        )
        return
    out_console.print(
        _t(
            "{n_profiles} profils nationaux ({n_neighbourhoods} quartiers, {n_answers} "
            "réponses) ; {n_reassigned} répondants rattachés.",
            n_profiles=len(profiles),
            n_neighbourhoods=result.n_neighbourhoods,
            n_answers=result.n_answers,
            n_reassigned=result.n_reassigned,
        ),
        highlight=False,
    )
    for p in profiles:
        out_console.print(f"  {p['number']}: {p['share']:.0%}", highlight=False)
    if result.synthetic:
        out_console.print(
            _t(
                "[bold]Réponses SYNTHÉTIQUES[/] : aucune campagne réelle n'a encore assez de "
                "réponses, ces profils sont une démonstration."
            ),
            highlight=False,
        )
    elif result.synthetic_left_out:
        out_console.print(
            _t(
                "Quartiers laissés hors de l'ajustement (campagne aux réponses synthétiques) : "
                "{ids}.",
                ids=", ".join(str(i) for i in result.synthetic_left_out),
            ),
            highlight=False,
        )


@store_app.command("release")
def release(
    diagnostic: Annotated[int, typer.Argument(min=1, help="Identifiant du diagnostic.")],
    database_url: DatabaseOpt = None,
    osm_dir: OsmDirOpt = None,
    shared_data: Annotated[
        Path | None,
        typer.Option(
            "--shared-data",
            envvar="QET_SHARED_DATA",
            help="Dossier des données partagées (tables du recensement par IRIS) : la version se "
            "compare au recensement et se pondère.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Publier les chiffres d'un diagnostic : une nouvelle version figée, lue par le public.

    Avec le dossier des extraits (``--osm-dir``, celui du service), la version porte aussi les
    liens, marges de manœuvre et thèmes de vote calculés sur les tables d'accès de la dernière
    analyse.
    """
    with _user_errors():
        from qet_geo.store.models import create_schema, make_engine
        from qet_geo.store.releases import create_release

        engine = make_engine(database_url)
        create_schema(engine)
        try:
            made = create_release(engine, diagnostic, osm_dir=osm_dir, shared_data=shared_data)
        finally:
            engine.dispose()
    if as_json:
        out_console.print_json(
            json.dumps(
                {
                    "diagnostic_id": made.diagnostic_id,
                    "number": made.number,
                    "n_respondents": made.n_respondents,
                    "created_at": made.created_at.isoformat(),
                    "synthetic": bool(made.figures.get("synthetic", False)),
                }
            )
        )
        return
    out_console.print(
        _t(
            "Diagnostic {diagnostic} : version {number} publiée ({n_respondents} répondants).",
            diagnostic=diagnostic,
            number=made.number,
            n_respondents=made.n_respondents,
        ),
        highlight=False,
    )
    if made.figures.get("synthetic"):
        out_console.print(
            _t(
                "[bold]Réponses SYNTHÉTIQUES[/] : cette publication est une démonstration, pas "
                "un résultat d'enquête ; elle le restera."
            ),
            highlight=False,
        )


@store_app.command("geopackage")
def geopackage(
    diagnostic: Annotated[int, typer.Argument(min=1, help="Identifiant du diagnostic.")],
    output: Annotated[Path, typer.Argument(help="Fichier GeoPackage à écrire (.gpkg).")],
    number: Annotated[
        int | None,
        typer.Option("--number", min=1, help="Numéro de la publication (défaut : la dernière)."),
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Écrire une publication d'un diagnostic en un fichier GeoPackage (carreaux, contour, chiffres)."""
    with _user_errors():
        from sqlalchemy import select
        from sqlalchemy.orm import Session

        from qet_geo.i18n import msg
        from qet_geo.store.models import NotFoundError, Release, create_schema, make_engine
        from qet_geo.store.release_files import write_release_geopackage
        from qet_geo.store.releases import latest_release

        engine = make_engine(database_url)
        create_schema(engine)
        try:
            with Session(engine) as session:
                if number is None:
                    release = latest_release(session, diagnostic)
                else:
                    release = session.scalar(
                        select(Release).where(
                            Release.diagnostic_id == diagnostic, Release.number == number
                        )
                    )
                if release is None:
                    raise NotFoundError(
                        msg(
                            "Le diagnostic {diagnostic} n'a pas cette publication : publiez-le "
                            "(qet store release) ou choisissez un autre --number.",
                            diagnostic=diagnostic,
                        )
                    )
                written = write_release_geopackage(session, release, output, lang=_state["lang"])
                shown = release.number
        finally:
            engine.dispose()
    out_console.print(
        _t(
            "Diagnostic {diagnostic} : publication {number} écrite dans {path}.",
            diagnostic=diagnostic,
            number=shown,
            path=str(written),
        ),
        highlight=False,
    )


@store_app.command("demo-network")
def demo_network(
    database_url: DatabaseOpt = None,
    osm_dir: Annotated[
        Path,
        typer.Option(
            "--osm-dir",
            envvar="QET_OSM_DIR",
            help="Dossier des extraits OSM des quartiers (indicateurs de contraintes).",
        ),
    ] = Path("osm"),
    shared_data: Annotated[
        Path,
        typer.Option(
            "--shared-data",
            envvar="QET_SHARED_DATA",
            help="Dossier des données partagées : ses extraits osm/ et le recensement par IRIS.",
        ),
    ] = Path("../shared/data"),
    as_json: JsonOpt = False,
) -> None:
    """Construire un réseau de démonstration : cinq quartiers aux réponses synthétiques."""
    with _user_errors():
        from qet_geo.store.demo_network import build_demo_network
        from qet_geo.store.models import create_schema, make_engine

        engine = make_engine(database_url)
        create_schema(engine)
        try:
            built = build_demo_network(engine, osm_dir=osm_dir, shared_data=shared_data)
        finally:
            engine.dispose()
    if as_json:
        out_console.print_json(
            json.dumps(
                {
                    "neighbourhoods": built.neighbourhoods,
                    "respondents": built.respondents,
                    "national_profiles": built.n_national_profiles,
                    "synthetic": built.synthetic,
                    "seconds": built.seconds,
                }
            )
        )
        return
    out_console.print(
        _t(
            "{n} quartiers publiés ({slugs}), {profiles} profils nationaux publiés, en {seconds} s. "
            "[bold]Réponses SYNTHÉTIQUES[/] : une démonstration, pas un résultat d'enquête.",
            n=len(built.neighbourhoods),
            slugs=", ".join(built.neighbourhoods),
            profiles=built.n_national_profiles,
            seconds=built.seconds,
        ),
        highlight=False,
    )
