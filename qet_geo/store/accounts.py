"""Accounts of the web workspace: users, passwords, invitations, sessions and their tokens.

A user signs in with an e-mail address (one account per address, whatever its case) and a
password kept as its Argon2id hash. Its role is an API role (admin, staff, pilot); a pilot sees
the neighbourhoods it is a member of. A "member" (anyone, who signs up at ``/reseau/inscription``)
only takes part in the network's pages (:mod:`qet_geo.store.community`): no neighbourhood, no
API token, and the workspace shows it its account page only. Administrators and network staff invite people with a
one-time link (:func:`invite`, :func:`accept_invitation`); a signed-in browser holds a random
session id whose hash names a :class:`~qet_geo.store.models.WebSession` row, so that signing out
or a password change ends it on the server. Failed sign-ins are counted per e-mail and per client
address: after :data:`FREE_FAILURES` of them, each further attempt waits a delay that doubles
with every failure. An attempt is counted before its password is checked
(:func:`claim_login_attempt`, under a lock: concurrent guesses cannot all slip through the count)
and forgotten if it succeeds (:func:`login_succeeded`).

Administrators manage the accounts (:func:`list_accounts`, :func:`set_active`: a deactivated
account loses its sessions and its API tokens in the same transaction; the last active
administrator cannot be deactivated), the pending invitations (:func:`pending_invitations`,
:func:`revoke_invitation`) and a neighbourhood's members (:func:`members`,
:func:`remove_membership`).

Every function takes the time as ``now`` (UTC) when it matters, so that tests set the clock.
"""

from __future__ import annotations

import functools
import math
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, false, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from qet_geo.errors import ValidationError
from qet_geo.i18n import msg
from qet_geo.store.models import (
    ApiToken,
    ConflictError,
    Invitation,
    LoginAttempt,
    Neighbourhood,
    NotFoundError,
    User,
    UserNeighbourhood,
    WebSession,
    session_scope,
    token_hash,
)

__all__ = [
    "ACCOUNT_ROLES",
    "BASE_DELAY_S",
    "FAILURE_MEMORY",
    "FREE_FAILURES",
    "INVITATION_DAYS",
    "MAX_DELAY_S",
    "MIN_PASSWORD_LENGTH",
    "SESSION_IDLE",
    "SESSION_LIFETIME",
    "AccountRow",
    "InvitationError",
    "Invited",
    "LoginClaim",
    "accept_invitation",
    "add_membership",
    "authenticate",
    "change_password",
    "check_password",
    "claim_login_attempt",
    "clear_login_failures",
    "close_session",
    "create_user",
    "create_user_token",
    "invitation_for",
    "invite",
    "list_accounts",
    "login_keys",
    "login_retry_after",
    "login_succeeded",
    "members",
    "memberships",
    "normalize_email",
    "open_session",
    "pending_invitations",
    "prepare_hashing",
    "record_login_failure",
    "remove_membership",
    "revoke_invitation",
    "revoke_user_token",
    "session_for",
    "set_active",
    "user_by_email",
    "user_tokens",
]

#: Roles of an account (the API's, without "public"; "member": the network's pages only).
ACCOUNT_ROLES: tuple[str, ...] = ("admin", "staff", "pilot", "member")
#: Shortest password accepted.
MIN_PASSWORD_LENGTH = 12
#: Days an invitation link stays valid.
INVITATION_DAYS = 7
#: Failed sign-ins of one e-mail or address before each new attempt must wait.
FREE_FAILURES = 5
#: The first wait, in seconds, doubled at every further failure, up to :data:`MAX_DELAY_S`.
BASE_DELAY_S = 30
MAX_DELAY_S = 3600
#: How long failed sign-ins are remembered.
FAILURE_MEMORY = timedelta(days=1)
#: A session lasts this long at most, and ends after this long unused.
SESSION_LIFETIME = timedelta(days=7)
SESSION_IDLE = timedelta(hours=12)
#: A session's ``last_seen_at`` is written again only after this long (one write per minute).
_SEEN_EVERY = timedelta(minutes=1)

_hasher = PasswordHasher()  # Argon2id, argon2-cffi's (RFC 9106 low-memory) parameters


class InvitationError(NotFoundError):
    """An invitation link that is unknown, already used or expired (``reason`` says which)."""

    def __init__(self, text: object, *, reason: str) -> None:
        super().__init__(text)  # type: ignore[arg-type]
        self.reason = reason


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    """The UTC moment of a stored time (SQLite gives it back without its time zone)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def normalize_email(email: str) -> str:
    """Return ``email`` trimmed and lower-cased, or raise if it is not an e-mail address."""
    text = email.strip().lower()
    local, _, domain = text.partition("@")
    if not local or "." not in domain or len(text) > 320 or any(c.isspace() for c in text):
        raise ValidationError(
            msg("{email!r} n'est pas une adresse électronique valide.", email=email.strip()[:80])
        )
    return text


def check_password(password: str) -> None:
    """Refuse a password shorter than :data:`MIN_PASSWORD_LENGTH` characters."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            msg(
                "le mot de passe doit compter au moins {n} caractères.",
                n=MIN_PASSWORD_LENGTH,
            )
        )


def _check_role(role: str) -> None:
    if role not in ACCOUNT_ROLES:
        raise ValidationError(
            msg(
                "le rôle doit être l'un de {roles}, pas {role!r}.",
                roles=", ".join(ACCOUNT_ROLES),
                role=role,
            )
        )


def prepare_hashing() -> None:
    """Make now the hash unknown e-mails are checked against (a service calls it at start-up,
    so that no sign-in pays for it and its time tells nothing)."""
    _dummy_hash()


@functools.cache
def _dummy_hash() -> str:
    """A hash to check passwords against when the e-mail is unknown (same time as a real one)."""
    return _hasher.hash(secrets.token_urlsafe(16))


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def user_by_email(session: Session, email: str) -> User | None:
    """Return the account of ``email`` (any case), None if there is none."""
    try:
        address = normalize_email(email)
    except ValidationError:
        return None
    return session.scalars(select(User).where(User.email == address)).first()


def create_user(
    session: Session,
    *,
    email: str,
    password: str,
    role: str,
    neighbourhood_ids: Sequence[int] = (),
) -> User:
    """Create an account and return it (flushed).

    Raises
    ------
    ValidationError
        An invalid address or role, a password too short, a pilot without neighbourhood.
    ConflictError
        An account with this address exists.
    """
    address = normalize_email(email)
    _check_role(role)
    check_password(password)
    if role == "pilot" and not neighbourhood_ids:
        raise ValidationError(msg("un membre d'équipe pilote doit avoir un quartier."))
    if role == "member" and neighbourhood_ids:
        raise ValidationError(msg("un compte membre n'a accès à aucun quartier."))
    if user_by_email(session, address) is not None:
        raise ConflictError(msg("un compte existe déjà pour {email}.", email=address))
    user = User(email=address, password_hash=_hasher.hash(password), role=role, active=True)
    session.add(user)
    session.flush()
    for hood_id in neighbourhood_ids:
        session.add(UserNeighbourhood(user_id=user.id, neighbourhood_id=int(hood_id)))
    session.flush()
    return user


def memberships(session: Session, user_id: int) -> frozenset[int]:
    """Return the ids of the neighbourhoods ``user_id`` is a member of."""
    rows = session.scalars(
        select(UserNeighbourhood.neighbourhood_id).where(UserNeighbourhood.user_id == user_id)
    )
    return frozenset(int(i) for i in rows)


def add_membership(session: Session, user: User, neighbourhood_id: int) -> None:
    """Make ``user`` a member of a neighbourhood; its pilot tokens follow."""
    if user.role == "member":
        raise ValidationError(msg("un compte membre n'a accès à aucun quartier."))
    if neighbourhood_id in memberships(session, user.id):
        return
    session.add(UserNeighbourhood(user_id=user.id, neighbourhood_id=neighbourhood_id))
    session.flush()
    hoods = sorted(memberships(session, user.id))
    for token in session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)):
        token.neighbourhood_ids = hoods


def authenticate(
    session: Session, email: str, password: str, *, now: datetime | None = None
) -> User | None:
    """Return the active account of ``email`` if ``password`` is its password, else None.

    An unknown address costs the same hash computation as a known one, so that the answer's
    time does not tell which addresses have an account.
    """
    user = user_by_email(session, email)
    if user is None:
        _verify(_dummy_hash(), password)
        return None
    if not _verify(user.password_hash, password) or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = now or _now()
    return user


def change_password(
    session: Session,
    user: User,
    *,
    current: str,
    new: str,
    keep_session: str | None = None,
) -> None:
    """Change ``user``'s password and end its other sessions.

    Parameters
    ----------
    keep_session
        The cookie value of the session making the change (kept signed in).

    Raises
    ------
    ValidationError
        The current password is wrong, or the new one too short.
    """
    if not _verify(user.password_hash, current):
        raise ValidationError(msg("le mot de passe actuel est incorrect."))
    check_password(new)
    user.password_hash = _hasher.hash(new)
    keep = token_hash(keep_session) if keep_session else ""
    session.execute(
        delete(WebSession).where(WebSession.user_id == user.id, WebSession.id_sha256 != keep)
    )


# --------------------------------------------------------------------------------------------------
# the brake on password guessing


def login_keys(email: str, address: str) -> tuple[str, str]:
    """Return the keys under which a sign-in's failures are counted: its e-mail, its address."""
    return (
        token_hash(f"email:{email.strip().lower()}"),
        token_hash(f"addr:{address}"),
    )


def _delay_s(failures: int) -> int:
    if failures < FREE_FAILURES:
        return 0
    return min(BASE_DELAY_S * 2 ** (failures - FREE_FAILURES), MAX_DELAY_S)


def login_retry_after(session: Session, keys: Iterable[str], *, now: datetime | None = None) -> int:
    """Return the seconds before the next sign-in attempt of these keys is heard (0: now).

    A read only: concurrent attempts may all see the same count. A sign-in decides through
    :func:`claim_login_attempt`, which counts and records under a lock.
    """
    now = now or _now()
    since = now - FAILURE_MEMORY
    wait = 0.0
    for key in keys:
        count, last = session.execute(
            select(func.count(), func.max(LoginAttempt.failed_at)).where(
                LoginAttempt.key == key, LoginAttempt.failed_at > since
            )
        ).one()
        delay = _delay_s(int(count))
        if delay and last is not None:
            wait = max(wait, (_aware(last) + timedelta(seconds=delay) - now).total_seconds())
    return max(0, math.ceil(wait))


def _serialize(session: Session, names: Iterable[str]) -> None:
    """Hold, until the transaction ends, the lock of each of ``names`` (check-then-write).

    PostgreSQL: a transaction-level advisory lock per name (taken in one order: no deadlock).
    SQLite: the database's write lock (one writer at a time), taken by a write statement
    that changes nothing; every read after it sees the latest commit.
    """
    if session.get_bind().dialect.name == "postgresql":
        for name in sorted(set(names)):
            key = int.from_bytes(bytes.fromhex(token_hash(name)[:16]), "big", signed=True)
            session.execute(select(func.pg_advisory_xact_lock(key)))
    else:
        session.execute(delete(LoginAttempt).where(false()))


@dataclass(frozen=True)
class LoginClaim:
    """What :func:`claim_login_attempt` decided.

    ``wait_s``: seconds before an attempt of these keys is heard (0: this one is). ``attempt_ids``:
    the rows counting this attempt as a failure until :func:`login_succeeded` removes them.
    """

    wait_s: int
    attempt_ids: tuple[int, ...] = ()


def claim_login_attempt(
    engine: Engine, keys: Sequence[str], *, now: datetime | None = None
) -> LoginClaim:
    """Count a sign-in attempt under ``keys`` before its password is checked, atomically.

    In one short transaction of its own, under the keys' locks: forget failures older than a
    day, count the recent ones, and either refuse (``wait_s`` > 0, nothing recorded) or record
    this attempt as a failure of each key. Committed before the (slow) password check, so that
    concurrent wrong attempts each see the others: at most :data:`FREE_FAILURES` of them are
    heard before the brake, however many arrive at once. A success then removes its own rows
    (:func:`login_succeeded`).
    """
    now = now or _now()
    with session_scope(engine) as session:
        _serialize(session, [f"login:{key}" for key in keys])
        session.execute(delete(LoginAttempt).where(LoginAttempt.failed_at <= now - FAILURE_MEMORY))
        wait = login_retry_after(session, keys, now=now)
        if wait:
            return LoginClaim(wait)
        rows = [LoginAttempt(key=key, failed_at=now) for key in keys]
        session.add_all(rows)
        session.flush()
        return LoginClaim(0, tuple(row.id for row in rows))


def login_succeeded(session: Session, claim: LoginClaim, email_key: str) -> None:
    """Forget a successful attempt's rows and every failure of its e-mail (its owner signed in)."""
    if claim.attempt_ids:
        session.execute(delete(LoginAttempt).where(LoginAttempt.id.in_(claim.attempt_ids)))
    clear_login_failures(session, email_key)


def record_login_failure(
    session: Session, keys: Iterable[str], *, now: datetime | None = None
) -> None:
    """Record a failed sign-in under ``keys`` and forget the failures older than a day."""
    now = now or _now()
    session.execute(delete(LoginAttempt).where(LoginAttempt.failed_at <= now - FAILURE_MEMORY))
    for key in keys:
        session.add(LoginAttempt(key=key, failed_at=now))
    session.flush()


def clear_login_failures(session: Session, key: str) -> None:
    """Forget the failures of ``key`` (an e-mail's, once its owner signed in)."""
    session.execute(delete(LoginAttempt).where(LoginAttempt.key == key))


# --------------------------------------------------------------------------------------------------
# invitations


@dataclass(frozen=True)
class Invited:
    """What :func:`invite` did: a link's token to send, or an existing account given the hood."""

    token: str | None
    existing: bool


def invite(
    session: Session,
    *,
    email: str,
    role: str = "pilot",
    neighbourhood_id: int | None = None,
    invited_by: int | None = None,
    now: datetime | None = None,
) -> Invited:
    """Invite ``email`` to the workspace, for a pilot to ``neighbourhood_id``.

    An address that already has an account is made a member of the neighbourhood at once (no
    link). Otherwise an invitation valid :data:`INVITATION_DAYS` days is stored (its token as a
    hash) and the token returned: the link shows it once.
    """
    address = normalize_email(email)
    _check_role(role)
    if role == "pilot" and neighbourhood_id is None:
        raise ValidationError(msg("un membre d'équipe pilote doit avoir un quartier."))
    existing = user_by_email(session, address)
    if existing is not None:
        if existing.role != role:
            raise ConflictError(
                msg(
                    "un compte existe déjà pour {email}, avec un autre rôle.",
                    email=address,
                )
            )
        if neighbourhood_id is not None:
            add_membership(session, existing, neighbourhood_id)
        return Invited(None, True)
    now = now or _now()
    token = secrets.token_urlsafe(32)
    session.add(
        Invitation(
            token_sha256=token_hash(token),
            email=address,
            role=role,
            neighbourhood_id=neighbourhood_id,
            invited_by=invited_by,
            created_at=now,
            expires_at=now + timedelta(days=INVITATION_DAYS),
        )
    )
    session.flush()
    return Invited(token, False)


def invitation_for(session: Session, token: str, *, now: datetime | None = None) -> Invitation:
    """Return the invitation of ``token`` if it can still be used.

    Raises
    ------
    InvitationError
        Unknown (``reason`` "unknown"), already used ("used") or expired ("expired").
    """
    now = now or _now()
    row = session.scalars(
        select(Invitation).where(Invitation.token_sha256 == token_hash(token))
    ).first()
    if row is None:
        raise InvitationError(msg("ce lien d'invitation n'existe pas."), reason="unknown")
    if row.used_at is not None:
        raise InvitationError(msg("ce lien d'invitation a déjà servi."), reason="used")
    if _aware(row.expires_at) <= now:
        raise InvitationError(msg("ce lien d'invitation a expiré."), reason="expired")
    return row


def accept_invitation(
    session: Session, token: str, password: str, *, now: datetime | None = None
) -> User:
    """Create the invited account with ``password`` and spend the invitation (single use)."""
    now = now or _now()
    row = invitation_for(session, token, now=now)
    hoods = [] if row.neighbourhood_id is None else [row.neighbourhood_id]
    user = create_user(
        session, email=row.email, password=password, role=row.role, neighbourhood_ids=hoods
    )
    row.used_at = now
    session.flush()
    return user


# --------------------------------------------------------------------------------------------------
# sessions


def open_session(
    session: Session, user: User, *, now: datetime | None = None
) -> tuple[str, WebSession]:
    """Open a web session for ``user``; return the cookie's value (shown once) and the row."""
    now = now or _now()
    cookie = secrets.token_urlsafe(32)
    row = WebSession(
        id_sha256=token_hash(cookie),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + SESSION_LIFETIME,
        last_seen_at=now,
    )
    session.add(row)
    # expired sessions go as new ones come
    session.execute(delete(WebSession).where(WebSession.expires_at <= now))
    session.flush()
    return cookie, row


def session_for(
    session: Session, cookie: str, *, now: datetime | None = None
) -> tuple[WebSession, User] | None:
    """Return the live session of a cookie and its active user, else None.

    The session's own writes (``last_seen_at`` once a minute, the deletion of an ended session)
    are committed first, in a transaction of their own, when ``session`` has not begun one yet
    (a request's session, before the page reads anything). Made in the page's transaction, they
    were flushed by its first query and, on SQLite, the page then held the write lock until it
    answered: a page that meanwhile had the store write on another connection (publishing, an
    upload, the analysis claim) waited for its own lock and failed after the busy timeout.
    """
    now = now or _now()
    key = token_hash(cookie)
    bind = session.get_bind()
    if not session.in_transaction() and isinstance(bind, Engine):
        with Session(bind) as own, own.begin():
            _keep_alive(own, key, now)
        row = session.get(WebSession, key)
    else:
        row = _keep_alive(session, key, now)
    if row is None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    return row, user


def _keep_alive(session: Session, key: str, now: datetime) -> WebSession | None:
    """Delete the session ``key`` if it has ended, else note it seen (at most once a minute).

    Returns the live session, None if there is none (any more).
    """
    row = session.get(WebSession, key)
    if row is None:
        return None
    if _aware(row.expires_at) <= now or _aware(row.last_seen_at) + SESSION_IDLE <= now:
        session.delete(row)
        return None
    if now - _aware(row.last_seen_at) >= _SEEN_EVERY:
        row.last_seen_at = now
    return row


def close_session(session: Session, cookie: str) -> None:
    """End the session of a cookie (signing out)."""
    session.execute(delete(WebSession).where(WebSession.id_sha256 == token_hash(cookie)))


# --------------------------------------------------------------------------------------------------
# tokens for scripts


def create_user_token(session: Session, user: User, *, label: str | None = None) -> str:
    """Create an API token with ``user``'s role and neighbourhoods; return it (shown once).

    A member account has no API rights: it gets no token.
    """
    if user.role == "member":
        raise ValidationError(msg("un compte membre n'a pas de jeton d'accès à l'API."))
    token = secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            token_sha256=token_hash(token),
            role=user.role,
            neighbourhood_ids=sorted(memberships(session, user.id)),
            label=(label or "").strip()[:200] or None,
            user_id=user.id,
        )
    )
    session.flush()
    return token


def user_tokens(session: Session, user: User) -> list[ApiToken]:
    """Return ``user``'s tokens, oldest first."""
    return list(
        session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id))
    )


def revoke_user_token(session: Session, user: User, token_id: int) -> None:
    """Delete one of ``user``'s tokens (another's, or none, is not found)."""
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:
        raise NotFoundError(msg("ce jeton n'existe pas."))
    session.delete(row)
    session.flush()


# --------------------------------------------------------------------------------------------------
# managing accounts, invitations and members (administrators and network staff)


@dataclass(frozen=True)
class AccountRow:
    """An account as the people page lists it (``neighbourhoods``: (id, name) of a pilot's)."""

    id: int
    email: str
    role: str
    neighbourhoods: tuple[tuple[int, str], ...]
    last_login_at: datetime | None
    active: bool


_ROLE_ORDER = {role: i for i, role in enumerate(ACCOUNT_ROLES)}


def list_accounts(session: Session) -> list[AccountRow]:
    """Return every account, administrators first, then staff, then pilots, by e-mail."""
    hoods: dict[int, list[tuple[int, str]]] = {}
    for user_id, hood_id, name in session.execute(
        select(UserNeighbourhood.user_id, Neighbourhood.id, Neighbourhood.name)
        .join(Neighbourhood, Neighbourhood.id == UserNeighbourhood.neighbourhood_id)
        .order_by(Neighbourhood.name, Neighbourhood.id)
    ):
        hoods.setdefault(int(user_id), []).append((int(hood_id), str(name)))
    users = sorted(
        session.scalars(select(User)), key=lambda u: (_ROLE_ORDER.get(u.role, 9), u.email)
    )
    return [
        AccountRow(
            id=u.id,
            email=u.email,
            role=u.role,
            neighbourhoods=tuple(hoods.get(u.id, ())),
            last_login_at=None if u.last_login_at is None else _aware(u.last_login_at),
            active=bool(u.active),
        )
        for u in users
    ]


def set_active(session: Session, actor: User | None, user_id: int, active: bool) -> list[str]:
    """Deactivate or reactivate the account ``user_id`` (``actor`` is an administrator, or None
    for the service's operator at its terminal: ``qet admin deactivate``).

    Deactivation, in the caller's transaction: the account can no longer sign in, its web
    sessions end and its API tokens are deleted (they stop working on the API at once; each
    server process forgets a cached token within seconds, the caller clears its own cache with
    the hashes returned). Reactivation gives back the sign-in only: no session, no token.

    Returns
    -------
    list of str
        The hashes of the tokens deleted.

    Raises
    ------
    NotFoundError
        No such account.
    ConflictError
        ``actor`` deactivating itself, or the last active administrator.
    """
    if active:
        target = session.get(User, user_id)
        if target is None:
            raise NotFoundError(msg("ce compte n'existe pas."))
        target.active = True
        session.flush()
        return []
    if actor is not None and user_id == actor.id:
        raise ConflictError(msg("vous ne pouvez pas désactiver votre propre compte."))
    # two administrators deactivating each other at once must not leave none
    _serialize(session, ["accounts:admins"])
    target = session.get(User, user_id)
    if target is None:
        raise NotFoundError(msg("ce compte n'existe pas."))
    session.refresh(target)
    if target.role == "admin" and target.active:
        admins = session.scalar(
            select(func.count()).where(User.role == "admin", User.active.is_(True))
        )
        if int(admins or 0) <= 1:
            raise ConflictError(
                msg("c'est le dernier administrateur actif : il ne peut pas être désactivé.")
            )
    target.active = False
    session.execute(delete(WebSession).where(WebSession.user_id == target.id))
    hashes = list(
        session.scalars(select(ApiToken.token_sha256).where(ApiToken.user_id == target.id))
    )
    session.execute(delete(ApiToken).where(ApiToken.user_id == target.id))
    session.flush()
    return hashes


def pending_invitations(
    session: Session, *, neighbourhood_id: int | None = None, now: datetime | None = None
) -> list[Invitation]:
    """Return the invitations not used and not expired (of one neighbourhood when given), newest
    first."""
    now = now or _now()
    query = select(Invitation).where(Invitation.used_at.is_(None), Invitation.expires_at > now)
    if neighbourhood_id is not None:
        query = query.where(Invitation.neighbourhood_id == neighbourhood_id)
    return list(session.scalars(query.order_by(Invitation.created_at.desc(), Invitation.id.desc())))


def revoke_invitation(
    session: Session, invitation_id: int, *, neighbourhood_id: int | None = None
) -> Invitation:
    """Delete a pending invitation (its link stops working); return it as it was.

    ``neighbourhood_id``: the invitation must be to this neighbourhood (else not found).
    """
    row = session.get(Invitation, invitation_id)
    if (
        row is None
        or row.used_at is not None
        or (neighbourhood_id is not None and row.neighbourhood_id != neighbourhood_id)
    ):
        raise NotFoundError(msg("cette invitation n'existe pas ou a déjà servi."))
    session.delete(row)
    session.flush()
    return row


def members(session: Session, neighbourhood_id: int) -> list[User]:
    """Return the accounts that are members of a neighbourhood (its pilot team), by e-mail."""
    return list(
        session.scalars(
            select(User)
            .join(UserNeighbourhood, UserNeighbourhood.user_id == User.id)
            .where(UserNeighbourhood.neighbourhood_id == neighbourhood_id)
            .order_by(User.email)
        )
    )


def remove_membership(session: Session, user_id: int, neighbourhood_id: int) -> list[str]:
    """Take a member out of a neighbourhood: its pages and its tokens no longer reach it.

    Returns
    -------
    list of str
        The hashes of the member's tokens whose neighbourhoods changed (for the token cache).

    Raises
    ------
    NotFoundError
        The account is not a member of this neighbourhood.
    """
    row = session.get(UserNeighbourhood, (user_id, neighbourhood_id))
    if row is None:
        raise NotFoundError(msg("ce compte n'est pas membre de ce quartier."))
    session.delete(row)
    session.flush()
    hoods = sorted(memberships(session, user_id))
    hashes = []
    for token in session.scalars(select(ApiToken).where(ApiToken.user_id == user_id)):
        token.neighbourhood_ids = hoods
        hashes.append(token.token_sha256)
    session.flush()
    return hashes
