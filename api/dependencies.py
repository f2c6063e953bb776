"""Dependencies of the routes: settings, database session, caller and object-level checks.

Every route that touches a neighbourhood or a diagnostic goes through :func:`neighbourhood_for`,
:func:`diagnostic_for` (or, for the cached cells, ``api.routers.aggregates.cells_for_caller``),
which check the caller's right to that very object.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Literal, Protocol

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from api.errors import AuthenticationError, PermissionDeniedError, StoreUnavailableError
from api.settings import Settings
from qet_geo.i18n import msg
from qet_geo.store.models import (
    ApiToken,
    ConflictError,
    Diagnostic,
    Neighbourhood,
    NotFoundError,
    token_hash,
)

Access = Literal["read", "write"]

#: Seconds a known token is remembered before it is looked up again.
TOKEN_CACHE_S = 10.0


class HoodLike(Protocol):
    """What authorisation needs of a neighbourhood."""

    @property
    def id(self) -> int: ...

    @property
    def published(self) -> bool: ...


@dataclass(frozen=True)
class Caller:
    """Who calls: a role, for a pilot team its neighbourhoods, and which credential it used.

    ``ident`` names the credential ("admin" for the service's admin token, "token:" and the
    start of its hash for a stored one, "" for the public): the scope of the caller's
    ``Idempotency-Key`` values. Not the token's row id, which SQLite may give to a new token
    once a revoked one's row is deleted.
    """

    role: str
    neighbourhood_ids: frozenset[int] = field(default_factory=frozenset)
    ident: str = ""

    def can_read(self, hood: HoodLike) -> bool:
        """Whether the caller may see ``hood`` and its published aggregates."""
        if self.role in ("admin", "staff"):
            return True
        if self.role in ("pilot", "member"):  # a member account: no neighbourhood at all
            return hood.id in self.neighbourhood_ids
        return bool(hood.published)

    def can_write(self, hood: HoodLike) -> bool:
        """Whether the caller may add diagnostics, answers and votes to ``hood``."""
        return self.role == "admin" or (self.role == "pilot" and hood.id in self.neighbourhood_ids)


PUBLIC = Caller("public")


async def get_settings(request: Request) -> Settings:
    """Return the settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


async def get_engine(request: Request) -> Engine:
    """Return the app's database engine."""
    engine: Engine = request.app.state.engine
    return engine


def get_session(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    """Yield a session whose transaction commits when the route returns, before it answers.

    Used with ``scope="function"`` (:data:`SessionDep`): FastAPI then runs the code after the
    ``yield`` as soon as the route function has returned and its answer is built, before a byte
    is sent. A 2xx therefore means that the write is committed: a server killed right after it,
    or a read sent right after it, sees the write. A commit (or a flush in the route) that breaks
    a unique or foreign-key constraint, such as two concurrent creations of one diagnostic year,
    rolls back and answers 409 instead of a 500; any other error rolls back and propagates.
    """
    session = sessionmaker(engine, expire_on_commit=False)()
    try:
        try:
            yield session
            session.commit()
        except IntegrityError:
            session.rollback()
            # from None: the statement's parameters (respondent values) stay out of any log
            raise integrity_conflict() from None
        except OperationalError:
            session.rollback()
            # a lock or serialisation failure, a lost connection: nothing saved, try again
            raise StoreUnavailableError(
                msg(
                    "la base de données n'a pas pu enregistrer cette requête maintenant (occupée ou "
                    "injoignable) : rien n'a été enregistré ; réessayez dans quelques secondes."
                )
            ) from None
        except BaseException:
            session.rollback()
            raise
    finally:
        session.close()


def integrity_conflict() -> ConflictError:
    """Return the 409 of a write that clashed with a concurrent one (nothing was saved)."""
    return ConflictError(
        msg(
            "cette requête entre en conflit avec ce qui est enregistré (une autre requête a "
            "écrit la même chose avant elle) : rien n'a été enregistré ; relisez l'état "
            "actuel et réessayez si besoin."
        )
    )


def _lookup_token(engine: Engine, digest: str) -> Caller | None:
    with sessionmaker(engine)() as session:
        row = session.scalars(select(ApiToken).where(ApiToken.token_sha256 == digest)).first()
        if row is None:
            return None
        hood_ids = frozenset(int(i) for i in row.neighbourhood_ids)
        return Caller(row.role, hood_ids, f"token:{digest[:40]}")


async def get_caller(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Caller:
    """Identify the caller from its bearer token; no token is the public.

    Known tokens are remembered for :data:`TOKEN_CACHE_S` seconds (a revoked token stops
    working within that delay); unknown ones are looked up every time.
    """
    if credentials is None:
        return PUBLIC
    token = credentials.credentials
    admin: str | None = request.app.state.settings.admin_token
    if admin and hmac.compare_digest(token.encode(), admin.encode()):
        return Caller("admin", ident="admin")
    digest = token_hash(token)
    cache: dict[str, tuple[Caller, float]] = request.app.state.token_cache
    hit = cache.get(digest)
    now = time.monotonic()
    if hit is not None and hit[1] > now:
        return hit[0]
    caller = await run_in_threadpool(_lookup_token, request.app.state.engine, digest)
    if caller is None:
        raise AuthenticationError(
            msg("jeton inconnu ou révoqué : demandez-en un nouveau au réseau.")
        )
    if len(cache) > 10_000:
        cache.clear()
    cache[digest] = (caller, now + TOKEN_CACHE_S)
    return caller


class _BearerCaller(HTTPBearer):
    """The bearer scheme of the OpenAPI spec, resolved straight to the :class:`Caller`.

    One dependency instead of two (the scheme, then the caller): each dependency FastAPI
    resolves took about 7 % of the time of an indicators page in the app.
    """

    async def __call__(self, request: Request) -> Caller:  # type: ignore[override]
        return await get_caller(request, await super().__call__(request))


_caller = _BearerCaller(
    auto_error=False, scheme_name="HTTPBearer", description="Jeton d'accès (admin, staff, pilot)."
)


#: The request's session, committed before the answer is sent (see :func:`get_session`).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
CallerDep = Annotated[Caller, Depends(_caller)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def missing(what: str, ident: int) -> NotFoundError:
    """Return the 404 error of an object that does not exist or that the caller may not see."""
    names = {"neighbourhood": "le quartier", "diagnostic": "le diagnostic", "vote": "le vote"}
    return NotFoundError(
        msg(
            "{names_get_what_what} {ident} n'existe pas.",
            names_get_what_what=names.get(what, what),
            ident=ident,
            what=what,
        )
    )


def forbid() -> PermissionDeniedError:
    """Return the error of a caller who sees an object but may not change it."""
    return PermissionDeniedError(msg("votre rôle ne permet pas de modifier cet objet."))


def neighbourhood_for(
    session: Session, caller: Caller, neighbourhood_id: int, *, access: Access = "read"
) -> Neighbourhood:
    """Return the neighbourhood if the caller may ``access`` it: 404 if unseen, 403 if read-only."""
    hood = session.get(Neighbourhood, neighbourhood_id)
    if hood is None or not caller.can_read(hood):
        raise missing("neighbourhood", neighbourhood_id)
    if access == "write" and not caller.can_write(hood):
        raise forbid()
    return hood


def diagnostic_for(
    session: Session, caller: Caller, diagnostic_id: int, *, access: Access = "read"
) -> Diagnostic:
    """Return the diagnostic if the caller may ``access`` its neighbourhood (as above)."""
    diag = session.get(Diagnostic, diagnostic_id)
    if diag is None:
        raise missing("diagnostic", diagnostic_id)
    hood = session.get(Neighbourhood, diag.neighbourhood_id)
    if hood is None or not caller.can_read(hood):
        raise missing("diagnostic", diagnostic_id)
    if access == "write" and not caller.can_write(hood):
        raise forbid()
    return diag


def require_roles(caller: Caller, *roles: str) -> None:
    """Refuse (403) a caller whose role is not among ``roles``."""
    if caller.role not in roles:
        raise forbid()
