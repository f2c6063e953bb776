"""Votes on the themes of a diagnostic: open, one ballot per participant code, close, results.

What a copy of the database holds (``docs/privacy.md``, rule 6): the vote, its codes as keyed
hashes (:func:`qet_geo.store.models.vote_code_hmac`, secret outside the database) each with a spent
flag, and one counter per theme. Ballots are added to the counters and never kept one by one:
there is no ballot row, so no id, time or row order to relate to a code. Each ballot rewrites
every code row and every counter of its vote in one transaction, so that PostgreSQL's system
columns (``xmin``, ``ctid``) name the last ballot's transaction on all of them alike, never
which code voted when. Wrong codes are rate-limited per client (:mod:`api._throttle`).
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Annotated

from fastapi import APIRouter, Path, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy import and_, case, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased

from api._throttle import FailureThrottle, client_address
from api.dependencies import (
    CallerDep,
    SessionDep,
    diagnostic_for,
    forbid,
)
from api.errors import request_lang
from api.models import BallotIn, BallotOut, ErrorOut, VoteIn, VoteOut, VoteResults
from qet_geo.errors import ValidationError
from qet_geo.i18n import msg
from qet_geo.privacy import MIN_RESPONDENTS
from qet_geo.store.models import (
    BallotCount,
    ConflictError,
    Diagnostic,
    NotFoundError,
    Vote,
    VoteCode,
    vote_code_hmac,
    vote_code_key,
)

router = APIRouter(tags=["votes"])
_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut},
    403: {"model": ErrorOut},
    404: {"model": ErrorOut},
    409: {"model": ErrorOut},
    422: {"model": ErrorOut},
}
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]

#: Crockford's base 32: digits and letters without I, L, O, U (read as 1, 1, 0; U is left out).
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: Symbols of a participant code: 12 × log2(32) = 60 bits.
CODE_LENGTH = 12
CODE_BITS = CODE_LENGTH * (len(CODE_ALPHABET).bit_length() - 1)
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = str.maketrans("", "", " -_.\t\n")


def new_code() -> str:
    """Draw a participant code (60 random bits), in its canonical form."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def display_code(code: str) -> str:
    """Write a canonical code in groups of four for printing: ``7KQ2-M9XD-4TRB``."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def canonical_code(text: str) -> str | None:
    """Return the canonical form of a typed or scanned code, or None if it cannot be one.

    Case, spaces and hyphens do not matter; O, I and L read as 0, 1 and 1. A code issued before
    migration 0005 (8 hexadecimal digits, 32 bits) comes back as ``legacy:<CODE>``, which
    :func:`_digest` hashes as the migration re-keyed it.
    """
    code = text.upper().translate(_SEPARATORS)
    if len(code) == 8 and all(c in "0123456789ABCDEF" for c in code):
        return "legacy:" + code
    code = code.translate(_READ_AS)
    if len(code) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in code):
        return None
    return code


def _digest(vote_id: int, code: str) -> str:
    if code.startswith("legacy:"):  # as migration 0005 re-keyed the old SHA-256 list
        old = hashlib.sha256(f"qet-vote:{vote_id}:{code.removeprefix('legacy:')}".encode())
        code = "legacy:" + old.hexdigest()
    return vote_code_hmac(vote_id, code)


def _throttle(request: Request) -> FailureThrottle:
    state = request.app.state
    throttle: FailureThrottle | None = getattr(state, "vote_throttle", None)
    if throttle is None:
        throttle = FailureThrottle(state.settings.vote_code_failures_per_minute, 60.0)
        state.vote_throttle = throttle
    return throttle


def _too_many(request: Request, wait: int) -> JSONResponse:
    en = (
        "too many wrong participant codes from this address: try again in "
        f"{wait} seconds, and check the code on your card."
    )
    fr = (
        "trop de codes de participant erronés depuis cette adresse : réessayez dans "
        f"{wait} secondes, et vérifiez le code sur votre carte."
    )
    return JSONResponse(
        {"detail": en if request_lang(request) == "en" else fr, "code": "TooManyAttempts"},
        status_code=status.HTTP_429_TOO_MANY_REQUESTS,
        headers={"Retry-After": str(wait)},
    )


def _vote_out(session: Session, vote: Vote, codes: list[str] | None = None) -> VoteOut:
    return VoteOut(
        id=vote.id,
        diagnostic_id=vote.diagnostic_id,
        question=vote.question,
        themes=list(vote.themes),
        is_open=vote.is_open,
        participant_codes=codes,
        synthetic=_synthetic(session, vote),
    )


def _synthetic(session: Session, vote: Vote) -> bool:
    """Whether the vote's diagnostic is of synthetic answers (its themes come from a demo)."""
    diag = session.get(Diagnostic, vote.diagnostic_id)
    return bool(diag is not None and diag.synthetic)


def _missing_vote(vote_id: int) -> NotFoundError:
    return NotFoundError(msg("le vote {vote_id} n'existe pas.", vote_id=vote_id))


def _vote_for(session: SessionDep, caller: CallerDep, vote_id: int, *, write: bool) -> Vote:
    vote = session.get(Vote, vote_id)
    if vote is None:
        raise _missing_vote(vote_id)
    try:
        diagnostic_for(session, caller, vote.diagnostic_id, access="write" if write else "read")
    except NotFoundError:
        raise _missing_vote(vote_id) from None
    return vote


def _closed() -> ConflictError:
    return ConflictError(msg("ce vote est clos."))


def _spent() -> ConflictError:
    return ConflictError(msg("ce code de participant a déjà voté."))


@router.post(
    "/diagnostics/{diagnostic_id}/votes",
    response_model=VoteOut,
    status_code=status.HTTP_201_CREATED,
    responses=_ERRORS,
)
def open_vote(body: VoteIn, session: SessionDep, caller: CallerDep, diagnostic_id: Id) -> VoteOut:
    """Open a vote and issue its participant codes (admin, the pilot team).

    The codes are in this answer only: the service keeps their keyed hashes, never the codes.
    """
    diag = diagnostic_for(session, caller, diagnostic_id, access="write")
    themes = [t.strip() for t in body.themes]
    if len(set(themes)) != len(themes) or not all(themes):
        raise ValidationError(msg("les thèmes doivent être distincts et non vides."))
    vote = Vote(diagnostic_id=diag.id, question=body.question, themes=themes)
    session.add(vote)
    session.flush()
    codes: set[str] = set()
    while len(codes) < body.n_participants:
        codes.add(new_code())
    key = vote_code_key()
    # stored in the order of their hashes: the rows keep nothing of the order of the list
    hashes = sorted(vote_code_hmac(vote.id, c, key=key) for c in codes)
    session.execute(
        insert(VoteCode), [{"vote_id": vote.id, "code_hmac": h, "spent": False} for h in hashes]
    )
    session.execute(
        insert(BallotCount),
        [{"vote_id": vote.id, "position": i, "n": 0} for i in range(len(themes))],
    )
    return _vote_out(session, vote, [display_code(c) for c in sorted(codes)])


@router.get("/votes/{vote_id}", response_model=VoteOut, responses=_ERRORS)
def get_vote(session: SessionDep, caller: CallerDep, vote_id: Id) -> VoteOut:
    """Describe a vote."""
    return _vote_out(session, _vote_for(session, caller, vote_id, write=False))


@router.post(
    "/votes/{vote_id}/ballots",
    response_model=BallotOut,
    status_code=status.HTTP_201_CREATED,
    responses={**_ERRORS, 429: {"model": ErrorOut}},
)
def cast_ballot(
    request: Request, body: BallotIn, session: SessionDep, vote_id: Id
) -> BallotOut | JSONResponse:
    """Cast a ballot with a participant code (one ballot per code; no token needed).

    A client that sent too many wrong codes in the last minute is answered 429 with
    ``Retry-After``, whatever its code, until the oldest failure is a minute old.
    """
    throttle = _throttle(request)
    client = client_address(request, request.app.state.settings.trusted_proxies)
    wait = throttle.retry_after(client)
    if wait:
        return _too_many(request, wait)
    # the vote's row lock (PostgreSQL) puts its ballots and its closing in one order
    vote = session.scalars(select(Vote).where(Vote.id == vote_id).with_for_update()).first()
    if vote is None:
        raise _missing_vote(vote_id)
    code = canonical_code(body.code)
    digest = None if code is None else _digest(vote.id, code)
    row = None if digest is None else session.get(VoteCode, (vote.id, digest))
    if row is None or digest is None:
        throttle.failed(client)
        raise forbid()
    if not vote.is_open:
        raise _closed()
    themes = list(vote.themes)
    unknown = sorted(set(body.choices) - set(themes))
    if unknown or len(set(body.choices)) != len(body.choices):
        raise ValidationError(
            msg(
                "les choix doivent être des thèmes distincts du vote ; inconnus : {unknown}.",
                unknown=unknown,
            )
        )
    if row.spent:
        raise _spent()
    # One statement spends the code only if it is unspent and the vote open (atomic on both
    # backends), and rewrites every code row of the vote alike.
    target = aliased(VoteCode)  # not correlated with the rows being rewritten
    unspent = exists().where(
        target.vote_id == vote.id, target.code_hmac == digest, target.spent.is_(False)
    )
    still_open = exists().where(Vote.id == vote.id, Vote.is_open.is_(True))
    done = session.execute(
        update(VoteCode)
        .where(VoteCode.vote_id == vote.id, unspent, still_open)
        .values(spent=or_(VoteCode.spent, VoteCode.code_hmac == digest))
        .execution_options(synchronize_session=False)
    )
    if not done.rowcount:  # type: ignore[attr-defined]
        session.expire_all()  # closed or spent by a concurrent request: read which
        fresh = session.get(Vote, vote.id)
        raise _closed() if fresh is None or not fresh.is_open else _spent()
    chosen = [themes.index(c) for c in body.choices]
    session.execute(
        update(BallotCount)
        .where(BallotCount.vote_id == vote.id)
        .values(n=BallotCount.n + case((BallotCount.position.in_(chosen), 1), else_=0))
        .execution_options(synchronize_session=False)
    )
    return BallotOut(vote_id=vote.id, accepted=True)


@router.post("/votes/{vote_id}/close", response_model=VoteOut, responses=_ERRORS)
def close_vote(session: SessionDep, caller: CallerDep, vote_id: Id) -> VoteOut:
    """Close a vote (admin, the pilot team): no ballot is accepted afterwards."""
    vote = _vote_for(session, caller, vote_id, write=True)
    vote.is_open = False
    session.flush()
    return _vote_out(session, vote)


def _n_ballots(session: SessionDep, vote_id: int) -> int:
    """Return the number of ballots of a vote: its spent codes."""
    return int(
        session.scalar(
            select(func.count()).where(and_(VoteCode.vote_id == vote_id, VoteCode.spent))
        )
        or 0
    )


def _protected_counts(counts: dict[str, int]) -> dict[str, int | None]:
    """Withhold the themes chosen by 1 to 10 ballots, and one more when only one is withheld.

    With one ballot one choice, the counts add up to the number of ballots, which is published:
    a single withheld count would be that number minus the others. So when exactly one count is
    withheld, the smallest other non-zero count is withheld with it (complementary suppression,
    as statistical offices do): only the sum of the two can then be worked out.
    """
    shown: dict[str, int | None] = {
        t: n if n == 0 or n >= MIN_RESPONDENTS else None for t, n in counts.items()
    }
    if sum(n is None for n in shown.values()) == 1:
        others = [(n, t) for t, n in shown.items() if n]
        if others:
            shown[min(others)[1]] = None
    return shown


@router.get("/votes/{vote_id}/results", response_model=VoteResults, responses=_ERRORS)
def vote_results(
    request: Request, session: SessionDep, caller: CallerDep, vote_id: Id
) -> VoteResults:
    """Count the ballots per theme, once the vote is closed and from 11 ballots on.

    Readers see the results of a closed vote; admin and the pilot team may follow the number of
    ballots while it is open, from 11 ballots on. The counts per theme are withheld while the
    vote is open (watching them change would reveal each new ballot) and when fewer than 11
    ballots were cast (statistical secrecy): ``published`` is then false and ``message`` says
    why. A number of ballots from 1 to 10 is never shown: ``n_ballots`` is null below 11, and
    so is the count of a theme chosen by 1 to 10 ballots (rule 6 of ``docs/privacy.md``: counts
    of ballots broken down by anything follow rule 2).
    """
    vote = _vote_for(session, caller, vote_id, write=False)
    if vote.is_open:
        _vote_for(session, caller, vote_id, write=True)  # 403 for read-only callers
    total = _n_ballots(session, vote.id)
    shown = total if total >= MIN_RESPONDENTS else None
    withheld: tuple[str, str] | None = None  # (English, French)
    if vote.is_open:
        withheld = (
            "the vote is open: the counts are published once it is closed, so that no ballot "
            "can be singled out by watching them change.",
            "le vote est ouvert : les décomptes sont publiés une fois le vote clos, "
            "pour qu'aucun bulletin ne puisse être isolé en les regardant évoluer.",
        )
    elif total < MIN_RESPONDENTS:
        withheld = (
            f"fewer than {MIN_RESPONDENTS} ballots: the counts of a vote are published from "
            f"{MIN_RESPONDENTS} ballots on (statistical secrecy).",
            f"moins de {MIN_RESPONDENTS} bulletins : les décomptes d'un vote sont "
            f"publiés à partir de {MIN_RESPONDENTS} bulletins (secret statistique).",
        )
    if withheld is not None:
        return VoteResults(
            vote_id=vote.id,
            is_open=vote.is_open,
            n_ballots=shown,
            published=False,
            counts={},
            message=withheld[0] if request_lang(request) == "en" else withheld[1],
            synthetic=_synthetic(session, vote),
        )
    stored = dict(
        session.execute(
            select(BallotCount.position, BallotCount.n).where(BallotCount.vote_id == vote.id)
        ).all()
    )
    # a theme's ballots are ballots broken down by choice: 1 to 10 of them show no number
    counts = _protected_counts({t: int(stored.get(i, 0)) for i, t in enumerate(vote.themes)})
    message = None
    if any(n is None for n in counts.values()):
        message = (
            f"themes chosen by fewer than {MIN_RESPONDENTS} ballots show no number "
            "(statistical secrecy)."
            if request_lang(request) == "en"
            else f"les thèmes choisis par moins de {MIN_RESPONDENTS} bulletins n'ont pas de "
            "nombre (secret statistique)."
        )
    return VoteResults(
        vote_id=vote.id,
        is_open=vote.is_open,
        n_ballots=shown,
        published=True,
        counts=counts,
        message=message,
        synthetic=_synthetic(session, vote),
    )
