"""The ``qet national`` commands: every neighbourhood (or every tile of a region) on Dask.

Registered by :mod:`qet_geo.cli.main` as ``app.add_typer(national_app, name="national")``::

    qet national run --neighbourhoods quartiers.csv --out resultats/ [--scheduler tcp://HOST:8786]

Thin: it reads the neighbourhoods with :func:`qet_geo.batch.read_neighbourhoods` (tiles them with
:func:`qet_geo.batch.tile_partitions`) and hands them to :func:`qet_geo.batch.run_national`. Dask
and the library are imported inside the command, so that ``qet --help`` starts at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from qet_geo.cli._common import _fail, _t, _user_errors, err_console, out_console

national_app = typer.Typer(
    help="Calcul national : chaque quartier (ou chaque tuile d'une région) sur Dask, reprenable.",
    no_args_is_help=True,
)


@national_app.command("run")
def run(
    neighbourhoods: Annotated[
        Path,
        typer.Option(
            "--neighbourhoods",
            help="Liste des quartiers : CSV id,osm,territory (chemins relatifs au fichier) ou "
            "GeoJSON/GeoPackage (propriétés id et osm, géométrie du quartier).",
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Dossier des résultats (un sous-dossier par quartier) ; reprend un "
            "calcul interrompu.",
        ),
    ],
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="Adresse d'un ordonnanceur Dask existant (tcp://HÔTE:8786) ; un cluster local "
            "sinon.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            help="Processus du cluster local (un par cœur par défaut).",
            show_default=False,
        ),
    ] = None,
    mode: Annotated[str, typer.Option("--mode", help="Mode : walk (marche) ou bike (vélo).")] = (
        "walk"
    ),
    buffer: Annotated[
        float, typer.Option("--buffer", help="Tampon autour de chaque territoire, en mètres.")
    ] = 1000.0,
    tile_m: Annotated[
        float | None,
        typer.Option(
            "--tile-m",
            help="Découpe chaque quartier en tuiles carrées de ce côté (mètres), chacune avec son "
            "tampon.",
            show_default=False,
        ),
    ] = None,
    show_progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Barre de progression.")
    ] = True,
) -> None:
    """Calcule les indicateurs d'accès de chaque quartier sur Dask, partition par partition."""
    if mode not in ("walk", "bike"):
        _fail(_t("--mode {mode} : utilisez walk ou bike.", mode=mode))
    if workers is not None and workers < 1:
        _fail(_t("--workers {workers} : donnez au moins 1 processus.", workers=workers))
    if workers is not None and scheduler is not None:
        _fail(_t("--workers ne s'applique qu'au cluster local : retirez-le avec --scheduler."))
    with _user_errors():
        from qet_geo.batch import read_neighbourhoods, run_national, tile_partitions

        partitions = read_neighbourhoods(neighbourhoods, buffer_m=buffer)
        if tile_m is not None:
            partitions = tile_partitions(partitions, tile_m=tile_m)
        with _bar(show_progress) as progress:
            report = run_national(
                partitions,
                out,
                mode="bike" if mode == "bike" else "walk",
                scheduler=scheduler,
                n_workers=workers,
                progress=progress,
            )
    homes = sum(int(s.get("homes", 0)) for s in report.summaries.values())
    out_console.print(
        _t(
            "{n_report_computed} partition(s) calculée(s) ({homes} logements), "
            "{n_report_skipped} déjà faite(s), {n_report_failed} en échec, en "
            "{seconds:.1f} s → {out}",
            n_report_computed=len(report.computed),
            homes=homes,
            n_report_skipped=len(report.skipped),
            n_report_failed=len(report.failed),
            seconds=report.seconds,
            out=out,
        ),
        highlight=False,
    )
    if report.failed:
        label = _t("Échec")
        for pid, message in report.failed.items():
            err_console.print(f"[yellow]{label} :[/] {pid} : {message}", highlight=False)
        err_console.print(
            _t("Relancez la même commande pour reprendre les partitions en échec."),
            highlight=False,
        )
        raise typer.Exit(code=1)


class _bar:
    """A progress bar of partitions on stderr; yields the ``(done, total, id)`` callback."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.progress: Any = None
        self.task: Any = None

    def __enter__(self) -> Any:
        if not self.enabled:
            return None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        )
        self.progress.start()
        label = _t("Quartiers")
        self.task = self.progress.add_task(label, total=None)

        def callback(done: int, total: int, pid: str) -> None:
            self.progress.update(
                self.task, completed=done, total=total, description=f"{label} ({pid})"
            )

        return callback

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()
