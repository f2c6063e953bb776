"""``qet links``: where usage profiles meet the built constraints of their homes.

The command is defined here as a plain function, ready for ``typer``; :mod:`qet_geo.cli.main`
registers it (``app.command("links")(links)``); the options shared with the other commands
come from :mod:`qet_geo.cli._common`. It reads located SU answers, builds the
neighbourhood's layers and per-home access, fits the usage profiles, and writes the protected
aggregates of :func:`qet_geo.analysis.links.link_report` as JSON (:meth:`~qet_geo.analysis.links.LinkReport.to_dict`):
the constraints of each profile, the models of each usage against its constraints (effects with
bootstrap intervals, cross-validated scores) and the margins of manoeuvre. The library is imported when the command runs, so that
``qet --help`` starts at once.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

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
    OsmFileArg,
    TerritoryOpt,
)
from qet_geo.i18n import msg, number

if TYPE_CHECKING:
    from qet_geo.analysis.links import LinkReport
    from qet_geo.i18n import Lang

__all__ = ["ANSWER_SUFFIXES", "links"]

#: Answer files the command reads.
ANSWER_SUFFIXES: tuple[str, ...] = (".csv", ".tsv", ".txt", ".xlsx", ".gpkg", ".parquet")


# Why a usage has no model, as people read it (French, English).
_STATUS_TEXT = {
    "too_few_answers": msg("moins de 11 réponses de chaque côté"),
    "no_indicator": msg("aucun indicateur mesuré (par ex. aucune gare à portée)"),
    "indicator_absent": msg("indicateur absent de la table d'accès"),
}


def links(
    answers_file: Annotated[
        Path,
        typer.Argument(
            help="Réponses SU localisées : GeoPackage ou Parquet (niveaux 1 à 3, building_key "
            "ou géométrie), ou fichier d'enquête CSV/TSV/XLSX avec lon/lat, carreau ou adresse."
        ),
    ],
    osm_file: OsmFileArg,
    out: Annotated[
        Path, typer.Option("--out", help="Fichier JSON de sortie (agrégats protégés seulement).")
    ],
    territory: TerritoryOpt = None,
    iris: IrisOpt = None,
    iris_layer: IrisLayerOpt = None,
    commune: CommuneOpt = None,
    communes_layer: CommunesLayerOpt = None,
    buffer: BufferOpt = 1000.0,
    census: CensusOpt = None,
    dem: DemOpt = None,
    gtfs: GtfsOpt = None,
    mode: Annotated[
        str, typer.Option("--mode", help="Mode de l'accès : walk (marche) ou bike (vélo).")
    ] = "walk",
    method: Annotated[
        str,
        typer.Option(
            "--method",
            help="Méthode des profils : ordinal-ward (défaut) ou near (algorithme de NEAR).",
        ),
    ] = "ordinal-ward",
    scale: Annotated[
        str,
        typer.Option(
            "--scale", help="Échelle des kgCO2e : near (table de NEAR) ou ngc (NosGestesClimat)."
        ),
    ] = "near",
    population: Annotated[
        float | None,
        typer.Option(
            "--population",
            help="Habitants du quartier, pour le gain total en tCO2e (par défaut : la population "
            "des bâtiments quand --census est donné).",
            show_default=False,
        ),
    ] = None,
    n_bootstrap: Annotated[
        int,
        typer.Option("--n-bootstrap", help="Rééchantillons bootstrap des intervalles (0 : aucun)."),
    ] = 200,
    seed: Annotated[
        int, typer.Option("--seed", help="Graine des plis et du bootstrap (résultats stables).")
    ] = 0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Affiche le résultat complet en JSON.")
    ] = False,
) -> None:
    """Relie les profils d'usages aux contraintes bâties de leurs logements (agrégats protégés)."""
    from qet_geo.cli._common import _fail, _progress, _state, _t, _territory, _user_errors

    if out.suffix.lower() != ".json":
        _fail(_t("--out {out} : utilisez un fichier .json.", out=out))
    if answers_file.suffix.lower() not in ANSWER_SUFFIXES:
        _fail(
            _t(
                "{answers_file} : format non reconnu ; donnez un fichier {suffixes}.",
                answers_file=answers_file,
                suffixes=", ".join(ANSWER_SUFFIXES),
            )
        )
    if mode not in ("walk", "bike"):
        _fail(_t("--mode {mode} : utilisez walk ou bike.", mode=mode))
    if method not in ("ordinal-ward", "near"):
        _fail(_t("--method {method} : utilisez ordinal-ward ou near.", method=method))
    if scale not in ("near", "ngc"):
        _fail(_t("--scale {scale} : utilisez near ou ngc.", scale=scale))
    if not 0 <= n_bootstrap <= 10_000:
        _fail(
            _t(
                "--n-bootstrap {n_bootstrap} : donnez un nombre entre 0 et 10 000.",
                n_bootstrap=n_bootstrap,
            )
        )
    if population is not None and not population > 0:
        _fail(
            _t(
                "--population {population} : donnez un nombre d'habitants positif.",
                population=population,
            )
        )
    lang = cast("Lang", _state["lang"])  # checked by the qet callback
    with _user_errors(), _progress(not as_json and sys.stderr.isatty()) as step:
        from qet_geo.analysis.homes import building_indicators
        from qet_geo.analysis.links import link_report
        from qet_geo.analysis.profiles import UsageProfiles
        from qet_geo.constraints.access import neighbourhood_access
        from qet_geo.pipeline import build_neighbourhood
        from qet_geo.surveys.located import read_located_answers

        area = _territory(territory, iris, iris_layer, commune, communes_layer, buffer)
        access_mode: Literal["walk", "bike"] = "walk" if mode == "walk" else "bike"
        hood = build_neighbourhood(
            osm_file,
            territory=area,
            census=census,
            dem=dem,
            gtfs=gtfs,
            modes=(access_mode,),
            progress=step,
        )
        layers = hood.layers
        access = hood.access[access_mode]
        if "buildings" in layers.layers:
            access = access.join(building_indicators(layers.layers["buildings"]))
        # answers located by their 200 m cell only are joined to the cells' access (census grid)
        cell_access = (
            neighbourhood_access(
                layers, mode=access_mode, homes="cells", network=hood.networks[access_mode]
            )
            if "cells" in layers.layers
            else None
        )
        step(_t("Réponses et localisation"))
        answers = read_located_answers(answers_file, layers)
        step(_t("Profils d'usages"))
        profiles = UsageProfiles(method="near" if method == "near" else "ordinal-ward").fit(answers)
        step(_t("Modèles et marges de manœuvre"))
        report = link_report(
            answers,
            access,
            profiles=profiles,
            cell_access=cell_access,
            scale="ngc" if scale == "ngc" else "near",
            population=population,
            n_bootstrap=n_bootstrap,
            random_state=seed,
            lang=lang,
        )
        result = report.to_dict()
        result["territory"] = layers.territory.name
        result["mode"] = mode
        result["profile_method"] = method
        step("write")
        try:
            _write_json(result, out)
        except OSError as err:
            _fail(
                _t(
                    "--out {out} : écriture impossible ({reason}).",
                    out=out,
                    reason=err.strerror or err,
                )
            )
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
        return
    _print_summary(report, out)


def _print_summary(report: LinkReport, out: Path) -> None:
    """Print the figures people look at first: model scores, main effects, margins."""
    import math

    from qet_geo.cli._common import _state, _t, out_console
    from qet_geo.constraints.indicators import INDICATORS

    lang = _state["lang"]

    def fmt(value: float | None, digits: int = 2) -> str:
        if value is None or math.isnan(value):
            return "—"
        return number(round(value, digits), decimals=digits).render(lang)

    n = report.n_located
    synthetic = _t(" [bold]synthétiques[/]") if report.synthetic else ""
    out_console.print(
        _t(
            "Liens usages-contraintes sur {n} réponses{synthetic} localisées : [bold]{out}[/]",
            n=n if n is not None else msg("moins de 11"),
            synthetic=synthetic,
            out=out,
        ),
        highlight=False,
        soft_wrap=True,
    )
    effects = report.effects
    for usage, model in report.models.iterrows():
        status = str(model["status"])
        if status not in ("ok", "unstable_intervals"):
            reason = _STATUS_TEXT.get(status, status)
            out_console.print(
                f"  {model['label']:<22} " + _t("pas de modèle : {reason}", reason=reason),
                highlight=False,
            )
            continue
        out_console.print(
            f"  {model['label']:<22} AUC {fmt(model['cv_auc'])} "
            + _t(
                "(sans contrainte {auc})",
                auc=fmt(model["baseline_auc"]),
            ),
            highlight=False,
        )
        if usage not in effects.index.get_level_values("usage"):
            continue
        for indicator, effect in effects.xs(usage, level="usage").iterrows():
            if effect["status"] != "ok":
                continue
            # the registry's label, as the report names it ("minutes jusqu'au marché...")
            entry = INDICATORS.get(str(indicator))
            name = entry.label.render(lang) if entry is not None else str(indicator)
            out_console.print(
                "      "
                + _t(
                    "{name} : OR {figures}",
                    name=name,
                    figures=f"{fmt(effect['odds_ratio'])} [{fmt(effect['odds_ratio_low'])} ; "
                    f"{fmt(effect['odds_ratio_high'])}] {effect['unit']}",
                ),
                highlight=False,
                soft_wrap=True,
            )
    out_console.print(
        _t("Marges de manœuvre (kgCO2e/pers./an) :"),
        highlight=False,
    )
    totals = report.margins.xs("all", level="usage")
    for _, margin in totals.iterrows():
        if margin["status"] in ("not_applicable", "too_few_answers"):
            continue
        if margin["status"] == "left_out":  # a scenario needing data the run lacks (GTFS)
            out_console.print(
                "  "
                + _t(
                    "{label} : {reason}",
                    label=margin["label"],
                    reason=margin["reason"],
                ),
                highlight=False,
                soft_wrap=True,
            )
            continue
        out_console.print(
            f"  {fmt(margin['saving_kgco2e_per_person'], 1):>7} "
            f"[{fmt(margin['saving_kgco2e_per_person_low'], 1)} ; "
            f"{fmt(margin['saving_kgco2e_per_person_high'], 1)}]  {margin['label']}",
            highlight=False,
            soft_wrap=True,
        )


def _write_json(result: dict[str, Any], path: Path) -> None:
    """Write the result atomically: a failed run leaves no half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(result, fh, ensure_ascii=False, indent=1, allow_nan=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
