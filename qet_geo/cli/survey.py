"""The ``qet survey`` commands: check survey answer files before anything is computed from them.

Wired into the main command by ``app.add_typer(survey_app, name="survey")`` in
:mod:`qet_geo.cli.main`. The helpers of :mod:`qet_geo.cli.main` are imported inside the commands, so that
``qet_geo.cli.main`` can import this module at its top without a cycle.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from qet_geo.i18n import msg

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console

    from qet_geo.surveys.answers import SurveyRead

__all__ = ["survey_app"]

survey_app = typer.Typer(
    help="Enquêtes : vérifier les fichiers de réponses (SU, MdV, NGC) avant de les utiliser.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_KINDS = ("su", "mdv", "ngc")
_STATUS = {"accepted": msg("acceptée"), "partial": msg("partielle"), "rejected": msg("rejetée")}


@survey_app.command()
def check(
    file: Annotated[Path, typer.Argument(help="Fichier de réponses (CSV, TSV ou XLSX).")],
    kind: Annotated[
        str,
        typer.Option(
            "--kind",
            help="Enquête : su (profils d'usages), mdv (modes et espaces de vie) ou ngc "
            "(empreinte NosGestesClimat).",
        ),
    ] = "su",
    sep: Annotated[
        str | None,
        typer.Option("--sep", help="Séparateur : tab, ';', ',' ou '|' (détecté par défaut)."),
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option("--encoding", help="Encodage, par exemple utf-8 ou cp1252 (détecté)."),
    ] = None,
    codes: Annotated[
        bool | None,
        typer.Option(
            "--codes/--labels",
            help="SU : réponses en codes numériques (1/2/3 ou 0/1/2) ou en libellés (détecté).",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Affiche le rapport en JSON (lignes à signaler).")
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Sort avec le code 1 si une ligne est rejetée.")
    ] = False,
) -> None:
    """Vérifie un fichier de réponses et affiche le rapport, ligne par ligne."""
    from qet_geo.cli._common import _fail, _state, _t, _user_errors, out_console

    if kind not in _KINDS:
        _fail(_t("--kind {kind} : utilisez su, mdv ou ngc.", kind=kind))
    if codes is not None and kind != "su":
        _fail(_t("--codes/--labels ne s'appliquent qu'aux fichiers SU (--kind su)."))
    with _user_errors():
        import warnings

        from qet_geo.surveys.mdv import read_mdv
        from qet_geo.surveys.ngc import read_ngc
        from qet_geo.surveys.su import read_su

        # the report printed below says it row by row
        warnings.filterwarnings("ignore", message=r".*row\(s\) rejected and .* partial")

        if kind == "su":
            read = read_su(file, sep=sep, encoding=encoding, codes=codes)
        elif kind == "mdv":
            read = read_mdv(file, sep=sep, encoding=encoding)
        else:
            read = read_ngc(file, sep=sep, encoding=encoding)
    lang = _state["lang"]
    summary = read.summary()
    reason_col = f"reason_{lang}"  # the report's column in the command's language (fr or en)
    flagged = read.report[(read.report["status"] != "accepted") | (read.report[reason_col] != "")]
    notes = [note.render(lang) for note in read.notes]
    if as_json:
        body: dict[str, Any] = {
            "file": read.source,
            "kind": read.kind,
            "encoding": read.encoding,
            "sep": {"\t": "tab"}.get(read.sep or "", read.sep),
            "coding": read.coding,
            "columns": dict(read.columns),
            "ignored_columns": list(read.ignored_columns),
            "summary": summary,
            "notes": notes,
            "rows": [
                {
                    "row": int(r["row"]),
                    "respondent_id": None if r["respondent_id"] == "" else r["respondent_id"],
                    "status": r["status"],
                    "reason": r[reason_col],
                }
                for r in flagged.to_dict("records")
            ],
        }
        typer.echo(json.dumps(body, ensure_ascii=False))
    else:
        _print_report(read, summary, flagged, notes, reason_col, out_console)
    if strict and summary["rejected"]:
        raise typer.Exit(code=1)


def _print_report(
    read: SurveyRead,
    summary: dict[str, int],
    flagged: pd.DataFrame,
    notes: list[str],
    reason_col: str,
    console: Console,
) -> None:
    from qet_geo.cli._common import _state, _t

    console.print(
        _t(
            "Fichier [bold]{source}[/] ({read_kind_upper}) : ",
            source=read.source,
            read_kind_upper=read.kind.upper(),
        )
        + ", ".join(notes),
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        _t("{n_read_columns} colonne(s) reconnue(s)", n_read_columns=len(read.columns))
        + (_t(" ; ignorées : ") + ", ".join(read.ignored_columns) if read.ignored_columns else ""),
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        _t(
            "{summary_rows} ligne(s) : {summary_accepted} acceptée(s), {summary_partial} "
            "partielle(s), {summary_rejected} rejetée(s) ; {summary_complete} complète(s)",
            summary_rows=summary["rows"],
            summary_accepted=summary["accepted"],
            summary_partial=summary["partial"],
            summary_rejected=summary["rejected"],
            summary_complete=summary["complete"],
        ),
        highlight=False,
    )
    for r in flagged.to_dict("records"):
        status = _STATUS[r["status"]].render(_state["lang"])
        rid = r["respondent_id"] or "-"
        console.print(
            _t(
                "  ligne {r_row} (id {rid}) {status} : {r_reason_col}",
                r_row=r["row"],
                rid=rid,
                status=status,
                r_reason_col=r[reason_col],
            ),
            highlight=False,
            soft_wrap=True,
        )
