"""Votes on the themes of a diagnostic: open, one ballot per participant code, close, results."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Path, Request, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.dependencies import (
    CallerDep,
    SessionDep,
    diagnostic_for,
    forbid,
)
from api.errors import request_lang
from api.models import BallotIn, BallotOut, ErrorOut, VoteIn, VoteOut, VoteResults
from qet_geo.errors import ValidationError
from qet_geo.privacy import MIN_RESPONDENTS
from qet_geo.store import Ballot, ConflictError, NotFoundError, Vote

router = APIRouter(tags=["votes"])
_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut},
    403: {"model": ErrorOut},
    404: {"model": ErrorOut},
    409: {"model": ErrorOut},
    422: {"model": ErrorOut},
}
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _code_hash(vote_id: int, code: str) -> str:
    return hashlib.sha256(f"qet-vote:{vote_id}:{code.strip().upper()}".encode()).hexdigest()


def _vote_out(vote: Vote, codes: list[str] | None = None) -> VoteOut:
    return VoteOut(
        id=vote.id,
        diagnostic_id=vote.diagnostic_id,
        question=vote.question,
        themes=list(vote.themes),
        is_open=vote.is_open,
        participant_codes=codes,
    )


def _vote_for(session: SessionDep, caller: CallerDep, vote_id: int, *, write: bool) -> Vote:
    vote = session.get(Vote, vote_id)
    if vote is None:
        raise NotFoundError(f"no vote {vote_id}.", message_fr=f"le vote {vote_id} n'existe pas.")
    try:
        diagnostic_for(session, caller, vote.diagnostic_id, access="write" if write else "read")
    except NotFoundError:
        raise NotFoundError(
            f"no vote {vote_id}.", message_fr=f"le vote {vote_id} n'existe pas."
        ) from None
    return vote


@router.post(
    "/diagnostics/{diagnostic_id}/votes",
    response_model=VoteOut,
    status_code=status.HTTP_201_CREATED,
    responses=_ERRORS,
)
def open_vote(body: VoteIn, session: SessionDep, caller: CallerDep, diagnostic_id: Id) -> VoteOut:
    """Open a vote and issue its participant codes (admin, the pilot team)."""
    diag = diagnostic_for(session, caller, diagnostic_id, access="write")
    themes = [t.strip() for t in body.themes]
    if len(set(themes)) != len(themes) or not all(themes):
        raise ValidationError(
            "themes must be distinct and not empty.",
            message_fr="les thèmes doivent être distincts et non vides.",
        )
    vote = Vote(diagnostic_id=diag.id, question=body.question, themes=themes)
    session.add(vote)
    session.flush()
    codes = [secrets.token_hex(4).upper() for _ in range(body.n_participants)]
    vote.participant_codes = [_code_hash(vote.id, c) for c in codes]
    session.flush()
    return _vote_out(vote, codes)


@router.get("/votes/{vote_id}", response_model=VoteOut, responses=_ERRORS)
def get_vote(session: SessionDep, caller: CallerDep, vote_id: Id) -> VoteOut:
    """Describe a vote."""
    return _vote_out(_vote_for(session, caller, vote_id, write=False))


@router.post(
    "/votes/{vote_id}/ballots",
    response_model=BallotOut,
    status_code=status.HTTP_201_CREATED,
    responses=_ERRORS,
)
def cast_ballot(body: BallotIn, session: SessionDep, vote_id: Id) -> BallotOut:
    """Cast a ballot with a participant code (one ballot per code; no token needed)."""
    vote = session.get(Vote, vote_id)
    if vote is None:
        raise NotFoundError(f"no vote {vote_id}.", message_fr=f"le vote {vote_id} n'existe pas.")
    digest = _code_hash(vote.id, body.code)
    if not any(hmac.compare_digest(digest, h) for h in vote.participant_codes):
        raise forbid()
    if not vote.is_open:
        raise ConflictError("this vote is closed.", message_fr="ce vote est clos.")
    unknown = sorted(set(body.choices) - set(vote.themes))
    if unknown or len(set(body.choices)) != len(body.choices):
        raise ValidationError(
            f"choices must be distinct themes of the vote; unknown: {unknown}.",
            message_fr=f"les choix doivent être des thèmes distincts du vote ; inconnus : {unknown}.",
        )
    already = session.scalars(
        select(Ballot.id).where(Ballot.vote_id == vote.id, Ballot.participant_hash == digest)
    ).first()
    if already is not None:
        raise ConflictError(
            "this participant code has already voted.",
            message_fr="ce code de participant a déjà voté.",
        )
    try:
        with session.begin_nested():
            session.add(Ballot(vote_id=vote.id, participant_hash=digest, choices=body.choices))
    except IntegrityError:
        raise ConflictError(
            "this participant code has already voted.",
            message_fr="ce code de participant a déjà voté.",
        ) from None
    return BallotOut(vote_id=vote.id, accepted=True)


@router.post("/votes/{vote_id}/close", response_model=VoteOut, responses=_ERRORS)
def close_vote(session: SessionDep, caller: CallerDep, vote_id: Id) -> VoteOut:
    """Close a vote (admin, the pilot team): no ballot is accepted afterwards."""
    vote = _vote_for(session, caller, vote_id, write=True)
    vote.is_open = False
    session.flush()
    return _vote_out(vote)


@router.get("/votes/{vote_id}/results", response_model=VoteResults, responses=_ERRORS)
def vote_results(
    request: Request, session: SessionDep, caller: CallerDep, vote_id: Id
) -> VoteResults:
    """Count the ballots per theme, once the vote is closed and from 11 ballots on.

    Readers see the results of a closed vote; admin and the pilot team may follow the number of
    ballots while it is open. The counts per theme are withheld while the vote is open (watching
    them change would reveal each new ballot) and when fewer than 11 ballots were cast
    (statistical secrecy): ``published`` is then false and ``message`` says why.
    """
    vote = _vote_for(session, caller, vote_id, write=False)
    if vote.is_open:
        _vote_for(session, caller, vote_id, write=True)  # 403 for read-only callers
    ballots = session.scalars(select(Ballot.choices).where(Ballot.vote_id == vote.id)).all()
    withheld: tuple[str, str] | None = None  # (English, French)
    if vote.is_open:
        withheld = (
            "the vote is open: the counts are published once it is closed, so that no ballot "
            "can be singled out by watching them change.",
            "le vote est ouvert : les décomptes sont publiés une fois le vote clos, "
            "pour qu'aucun bulletin ne puisse être isolé en les regardant évoluer.",
        )
    elif len(ballots) < MIN_RESPONDENTS:
        withheld = (
            f"only {len(ballots)} ballots: the counts of a vote are published from "
            f"{MIN_RESPONDENTS} ballots on (statistical secrecy).",
            f"seulement {len(ballots)} bulletins : les décomptes d'un vote sont "
            f"publiés à partir de {MIN_RESPONDENTS} bulletins (secret statistique).",
        )
    if withheld is not None:
        return VoteResults(
            vote_id=vote.id,
            is_open=vote.is_open,
            n_ballots=len(ballots),
            published=False,
            counts={},
            message=withheld[0] if request_lang(request) == "en" else withheld[1],
        )
    counts = dict.fromkeys(vote.themes, 0)
    for choices in ballots:
        for theme in choices:
            if theme in counts:
                counts[theme] += 1
    return VoteResults(
        vote_id=vote.id, is_open=vote.is_open, n_ballots=len(ballots), published=True, counts=counts
    )
