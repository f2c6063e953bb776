"""The ``qet admin`` commands: the web workspace's first administrator.

Registered by :mod:`qet_geo.cli.main` as ``app.add_typer(admin_app, name="admin")``::

    qet admin create alice@reseau.example                   # asks the password twice
    printf '%s' "$PASS" | qet admin create bob@reseau.example --password-stdin

The account is made in the store of ``--database-url`` (``QET_DATABASE_URL``, a SQLite file by
default) by :func:`qet_geo.store.accounts.create_user`; its owner then signs in at
``/connexion`` and invites the others from the pages.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from qet_geo.cli._common import _fail, _t, _user_errors, out_console
from qet_geo.cli.store import DatabaseOpt

admin_app = typer.Typer(
    help="Comptes de l'espace de travail web : le premier administrateur.",
    no_args_is_help=True,
)


@admin_app.command("create")
def create(
    email: Annotated[str, typer.Argument(help="Adresse électronique de l'administrateur.")],
    database_url: DatabaseOpt = None,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Lire le mot de passe sur l'entrée standard (une ligne) au lieu de le demander.",
        ),
    ] = False,
) -> None:
    """Créer un compte administrateur de l'espace de travail web (le premier, ou un autre)."""
    from qet_geo.store.accounts import MIN_PASSWORD_LENGTH

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt(
            _t("Mot de passe"),
            hide_input=True,
            confirmation_prompt=_t("Le même mot de passe, à nouveau"),
        )
    if len(password) < MIN_PASSWORD_LENGTH:
        _fail(
            _t(
                "le mot de passe doit compter au moins {n} caractères.",
                n=MIN_PASSWORD_LENGTH,
            )
        )
    with _user_errors():
        from qet_geo.store.accounts import create_user
        from qet_geo.store.models import create_schema, make_engine, session_scope

        engine = make_engine(database_url)
        create_schema(engine)
        with session_scope(engine) as session:
            user = create_user(session, email=email, password=password, role="admin")
            address = user.email
        engine.dispose()
    out_console.print(
        _t(
            "Compte administrateur créé pour {email} : connectez-vous sur la page /connexion "
            "du service.",
            email=address,
        ),
        highlight=False,
    )
