"""Votes on the themes of a diagnostic: open, one ballot per participant code, close, results.

The vote's logic, and what a copy of the database holds (``docs/privacy.md``, rule 6), is in
:mod:`qet_geo.store.votes`, which the forum's pages call too; this module gives it its JSON
routes, the rights of the callers and the rate limit of wrong codes per client
(:mod:`api._throttle`, :func:`vote_throttle`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from api._throttle import FailureThrottle, client_address
from api.dependencies import (
    CallerDep,
    SessionDep,
    diagnostic_for,
    forbid,
)
from api.errors import request_lang
from api.models import BallotIn, BallotOut, ErrorOut, VoteIn, VoteOut, VoteResults
from qet_geo.i18n import msg
from qet_geo.privacy import MIN_RESPONDENTS
from qet_geo.store import votes
from qet_geo.store.models import Diagnostic, NotFoundError, Vote
from qet_geo.store.votes import (  # noqa: F401 (the names the API had)
    CODE_ALPHABET,
    CODE_BITS,
    CODE_LENGTH,
    _digest,
    canonical_code,
    display_code,
    new_code,
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


def vote_throttle(request: Request) -> FailureThrottle:
    """The app's throttle of wrong participant codes per client (the forum's page uses it too)."""
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
    vote, codes = votes.open_vote(
        session, diag.id, body.question, list(body.themes), body.n_participants
    )
    return _vote_out(session, vote, codes)


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
    throttle = vote_throttle(request)
    client = client_address(request, request.app.state.settings.trusted_proxies)
    wait = throttle.retry_after(client)
    if wait:
        return _too_many(request, wait)
    try:
        votes.cast_ballot(session, vote_id, body.code, list(body.choices))
    except votes.WrongCodeError:
        throttle.failed(client)
        raise forbid() from None
    return BallotOut(vote_id=vote_id, accepted=True)


@router.post("/votes/{vote_id}/close", response_model=VoteOut, responses=_ERRORS)
def close_vote(session: SessionDep, caller: CallerDep, vote_id: Id) -> VoteOut:
    """Close a vote (admin, the pilot team): no ballot is accepted afterwards."""
    vote = _vote_for(session, caller, vote_id, write=True)
    return _vote_out(session, votes.close_vote(session, vote))


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
    results = votes.vote_results(session, vote)
    withheld: tuple[str, str] | None = None  # (English, French)
    if results.reason == "open":
        withheld = (
            "the vote is open: the counts are published once it is closed, so that no ballot "
            "can be singled out by watching them change.",
            "le vote est ouvert : les décomptes sont publiés une fois le vote clos, "
            "pour qu'aucun bulletin ne puisse être isolé en les regardant évoluer.",
        )
    elif results.reason == "few":
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
            n_ballots=results.n_ballots,
            published=False,
            counts={},
            message=withheld[0] if request_lang(request) == "en" else withheld[1],
            synthetic=_synthetic(session, vote),
        )
    message = None
    if results.withheld:
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
        n_ballots=results.n_ballots,
        published=True,
        counts=results.counts,
        message=message,
        synthetic=_synthetic(session, vote),
    )
