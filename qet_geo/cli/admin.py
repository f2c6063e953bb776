"""The ``qet admin`` commands: the web workspace's accounts from the server's terminal.

Registered by :mod:`qet_geo.cli.main` as ``app.add_typer(admin_app, name="admin")``::

    qet admin create alice@reseau.example                   # asks the password twice
    printf '%s' "$PASS" | qet admin create bob@reseau.example --password-stdin
    qet admin list                                          # every account, its role, state
    qet admin deactivate carol@quartier.example             # sessions and API tokens end now
    qet admin activate carol@quartier.example

Deactivating from the terminal follows the people page's rules
(:func:`qet_geo.store.accounts.set_active`): never the last active administrator.

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
from qet_geo.i18n import msg

admin_app = typer.Typer(
    help="Comptes de l'espace de travail web : créer un administrateur, lister, désactiver.",
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


@admin_app.command("list")
def list_command(database_url: DatabaseOpt = None) -> None:
    """Lister les comptes, un par ligne : adresse, rôle, état, quartiers (séparés par des tabulations)."""
    with _user_errors():
        from qet_geo.store.accounts import list_accounts
        from qet_geo.store.models import create_schema, make_engine, session_scope

        engine = make_engine(database_url)
        create_schema(engine)
        with session_scope(engine) as session:
            rows = list_accounts(session)
        engine.dispose()
    if not rows:
        out_console.print(_t("Aucun compte : créez le premier avec qet admin create."))
        return
    for row in rows:
        hoods = ", ".join(name for _, name in row.neighbourhoods)
        state = _t("actif") if row.active else _t("désactivé")
        line = f"{row.email}\t{row.role}\t{state}" + (f"\t{hoods}" if hoods else "")
        typer.echo(line)  # tab-separated, as it is: for people and for scripts (cut, awk)


def _set_active(email: str, database_url: str | None, active: bool) -> None:
    with _user_errors():
        from qet_geo.store.accounts import set_active, user_by_email
        from qet_geo.store.models import NotFoundError, create_schema, make_engine, session_scope

        engine = make_engine(database_url)
        create_schema(engine)
        try:
            with session_scope(engine) as session:
                user = user_by_email(session, email)
                if user is None:
                    raise NotFoundError(
                        msg(
                            "aucun compte pour {email} : qet admin list donne les adresses.",
                            email=email,
                        )
                    )
                set_active(session, None, user.id, active)
                address = user.email
        finally:
            engine.dispose()
    done = (
        _t("Compte {email} réactivé : il peut se connecter à nouveau.", email=address)
        if active
        else _t(
            "Compte {email} désactivé : ses sessions et ses jetons d'API ne servent plus.",
            email=address,
        )
    )
    out_console.print(done, highlight=False)


@admin_app.command("deactivate")
def deactivate(
    email: Annotated[str, typer.Argument(help="Adresse électronique du compte.")],
    database_url: DatabaseOpt = None,
) -> None:
    """Désactiver un compte : il ne peut plus se connecter ; ses sessions et jetons cessent."""
    _set_active(email, database_url, False)


@admin_app.command("activate")
def activate(
    email: Annotated[str, typer.Argument(help="Adresse électronique du compte.")],
    database_url: DatabaseOpt = None,
) -> None:
    """Réactiver un compte désactivé (sans session ni jeton : il se connecte à nouveau)."""
    _set_active(email, database_url, True)
