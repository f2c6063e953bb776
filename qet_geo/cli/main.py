"""The ``qet`` command: the assembly of the command modules of :mod:`qet_geo.cli`.

Thin: every command parses its options, calls public library functions and prints. Heavy libraries
are imported inside the commands so that ``qet --help`` starts at once. Errors of the library
(:class:`qet_geo.errors.QetGeoError`) become one line on stderr and exit code 2, never a traceback.
Messages are French by default; ``--lang en`` or ``QET_LANG=en`` switches to English.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from qet_geo.cli._common import (
    _fail,
    _state,
    _t,
)
from qet_geo.cli.diagnose import demo, diagnose
from qet_geo.cli.links import links
from qet_geo.cli.national import national_app
from qet_geo.cli.neighbourhood import access, isochrone, layers
from qet_geo.cli.profiles import profiles
from qet_geo.cli.route import route
from qet_geo.cli.serve import serve
from qet_geo.cli.store import store_app
from qet_geo.cli.survey import survey_app
from qet_geo.cli.synth import synthesize

app = typer.Typer(
    name="qet",
    help="qet-geo : analyse géographique des Quartiers en Transitions (couches, contraintes "
    "bâties, profils d'usages).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

survey_app.command("synthesize")(synthesize)
app.command("profiles")(profiles)
app.command("links")(links)
app.command("route")(route)
app.add_typer(national_app, name="national")
app.command("serve")(serve)
app.add_typer(store_app, name="store")
app.add_typer(survey_app, name="survey")
app.command("layers")(layers)
app.command("access")(access)
app.command("isochrone")(isochrone)
app.command("diagnose")(diagnose)
app.command("demo")(demo)


@app.callback()
def main(
    lang: Annotated[
        str | None,
        typer.Option("--lang", help="Langue des messages : fr (défaut) ou en.", show_default=False),
    ] = None,
) -> None:
    """qet-geo : couches, contraintes bâties et profils d'usages des quartiers."""
    lang = lang or os.environ.get("QET_LANG", "fr")
    if lang not in ("fr", "en"):
        _state["lang"] = "fr"
        _fail(_t("langue inconnue {lang!r} : utilisez fr ou en.", lang=lang))
    _state["lang"] = lang


def run() -> None:  # pragma: no cover - console entry point helper
    """Run the CLI (used by ``python -m qet_geo``)."""
    app()


if __name__ == "__main__":  # pragma: no cover
    run()
