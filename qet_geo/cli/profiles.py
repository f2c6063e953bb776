"""The ``qet profiles`` command: the Profils d'Usages of an SU answer file.

Registered by :mod:`qet_geo.cli.main` as ``qet profiles FILE [--method near|ordinal-ward]
[--out profiles.json]``. Thin: it reads the file with :func:`qet_geo.surveys.su.read_su`, fits
:class:`qet_geo.analysis.profiles.UsageProfiles` and prints or writes :meth:`~UsageProfiles.to_dict`. The
helpers of :mod:`qet_geo.cli.main` are imported inside the command, so that ``qet_geo.cli.main`` can import
this module at its top without a cycle; the library is imported there too, so that ``qet --help``
starts at once.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

# INSEE's statistical-secrecy floor (see docs/privacy): no published figure from fewer answers
_SECRECY_MIN = 11


def profiles(
    file: Annotated[
        Path, typer.Argument(help="Réponses SU (CSV, TSV ou XLSX), par exemple l'export de NEAR.")
    ],
    method: Annotated[
        str,
        typer.Option(
            "--method",
            help="Méthode : near (algorithme de référence de NEAR) ou ordinal-ward "
            "(niveaux ordinaux, Ward, taille minimale garantie).",
        ),
    ] = "near",
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Fichier JSON de sortie : profils et profil de chaque réponse."),
    ] = None,
    n_profiles: Annotated[
        int | None,
        typer.Option(
            "--n-profiles",
            help="Nombre de profils (ordinal-ward) ou seuil d'arrêt en nombre de groupes (near, "
            "3 par défaut). Automatique par défaut.",
            show_default=False,
        ),
    ] = None,
    min_share: Annotated[
        float | None,
        typer.Option(
            "--min-share",
            help="Part minimale d'un profil, entre 0 et 1 : garantie (ordinal-ward, 0.05 par "
            "défaut) ou seuil d'arrêt (near, 0.11 par défaut).",
            show_default=False,
        ),
    ] = None,
    five_usages: Annotated[
        bool,
        typer.Option(
            "--five-usages",
            help="Les cinq usages différenciants de la méthode publiée, sans le chauffage.",
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Affiche le résultat complet en JSON.")
    ] = False,
    lang: Annotated[
        str | None,
        typer.Option("--lang", help="Langue des messages et des descriptions : fr ou en."),
    ] = None,
) -> None:
    """Calcule les Profils d'Usages d'un fichier de réponses SU."""
    from qet_geo.cli._common import _fail, _state, _t, _user_errors, err_console, out_console
    from qet_geo.i18n import number

    if lang is not None:
        if lang not in ("fr", "en"):
            _fail(_t("--lang {lang} : utilisez fr ou en.", lang=lang))
        _state["lang"] = lang
    if method not in ("near", "ordinal-ward"):
        _fail(_t("--method {method} : utilisez near ou ordinal-ward.", method=method))
    if out is not None and out.suffix.lower() != ".json":
        _fail(_t("--out {out} : utilisez un fichier .json.", out=out))
    if n_profiles is not None and n_profiles < 1:
        _fail(
            _t(
                "--n-profiles {n_profiles} : donnez un nombre au moins égal à 1.",
                n_profiles=n_profiles,
            )
        )
    if min_share is not None and not 0.0 <= min_share <= 1.0:
        _fail(
            _t(
                "--min-share {min_share} : donnez une part entre 0 et 1 (0.11 pour 11 %).",
                min_share=min_share,
            )
        )
    lang_out: Literal["fr", "en"] = "en" if _state["lang"] == "en" else "fr"
    with _user_errors():
        from qet_geo.analysis.profiles import UsageProfiles
        from qet_geo.surveys.schema import DIFFERENTIATING_USAGES, USAGES
        from qet_geo.surveys.su import read_su

        read = read_su(file)
        model = UsageProfiles(
            method="near" if method == "near" else "ordinal-ward",
            n_profiles="auto" if n_profiles is None else n_profiles,
            min_share=min_share,
            usages=DIFFERENTIATING_USAGES if five_usages else USAGES,
        ).fit(read.answers)
        result = model.to_dict(lang=lang_out)
    if out is not None:
        try:
            _write_json(result, out)
        except OSError as err:
            _fail(
                _t(
                    "--out {out} : écriture impossible ({err_strerror_or_err}).",
                    out=out,
                    err_strerror_or_err=err.strerror or err,
                )
            )
    small = [p for p in result["profiles"] if p["n"] < _SECRECY_MIN]
    for p in small:
        err_console.print(
            _t(
                "[yellow]Attention :[/] le profil {p_profile} ne compte que {p_n} réponses "
                "(moins de {_SECRECY_MIN}) : ne le publiez pas tel quel (secret statistique).",
                p_profile=p["profile"],
                p_n=p["n"],
                _SECRECY_MIN=_SECRECY_MIN,
            ),
            highlight=False,
            soft_wrap=True,
        )
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
        return
    n_answers = sum(p["n"] for p in result["profiles"])
    out_console.print(
        _t(
            "{n_result_profiles} profils d'usages ({method}) sur {n_answers} réponses complètes :",
            n_result_profiles=len(result["profiles"]),
            method=method,
            n_answers=n_answers,
        ),
        highlight=False,
    )
    for p in result["profiles"]:
        share = _t("{share} %", share=number(p["share_pct"], decimals=1))
        out_console.print(
            f"  {p['profile']:>2}  {share:>7}  ({p['n']:>4})  {p['description']}",
            highlight=False,
            soft_wrap=True,
        )
    if out is not None:
        out_console.print(
            _t("Résultat écrit dans [bold]{out}[/]", out=out),
            highlight=False,
        )


def _write_json(result: dict[str, Any], path: Path) -> None:
    """Write the result atomically: a failed run leaves no half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(result, fh, ensure_ascii=False, indent=1)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
