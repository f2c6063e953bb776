"""Votes on the themes of a diagnostic: open, one ballot per participant code, close, results.

What a copy of the database holds (``docs/privacy.md``, rule 6): the vote, its codes as keyed
hashes (:func:`qet_geo.store.models.vote_code_hmac`, secret outside the database) each with a spent
flag, and one counter per theme. Ballots are added to the counters and never kept one by one:
there is no ballot row, so no id, time or row order to relate to a code. Each ballot rewrites
every code row and every counter of its vote in one transaction, so that PostgreSQL's system
columns (``xmin``, ``ctid``) name the last ballot's transaction on all of them alike, never
which code voted when.

Paper ballots of the forum are counted by two members of the team independently
(:func:`record_paper_count`); the paper result is taken only when two entries by different
people agree exactly (:func:`paper_result`). The results (:func:`vote_results`) add the agreed
paper count to the online ballots, and publish them, as every count of a vote, once the vote is
closed and from 11 ballots on; the online / paper split follows the same rule.

The JSON API (:mod:`api.routers.votes`) and the forum's pages (:mod:`api.web.forum`) both call
this module; the throttle of wrong codes is the API's (per server process).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import and_, case, delete, exists, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from qet_geo.errors import QetGeoError, ValidationError
from qet_geo.i18n import msg
from qet_geo.privacy import MIN_RESPONDENTS
from qet_geo.store.models import (
    BallotCount,
    ConflictError,
    NotFoundError,
    PaperCount,
    Vote,
    VoteCode,
    vote_code_hmac,
    vote_code_key,
)

__all__ = [
    "CODE_ALPHABET",
    "CODE_BITS",
    "CODE_LENGTH",
    "MAX_CODES",
    "PaperResult",
    "Results",
    "WrongCodeError",
    "canonical_code",
    "cast_ballot",
    "close_vote",
    "display_code",
    "n_online_ballots",
    "new_code",
    "open_vote",
    "paper_entry",
    "paper_result",
    "protected_counts",
    "record_paper_count",
    "vote_results",
    "withdraw_paper_count",
]

#: Crockford's base 32: digits and letters without I, L, O, U (read as 1, 1, 0; U is left out).
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: Symbols of a participant code: 12 × log2(32) = 60 bits.
CODE_LENGTH = 12
CODE_BITS = CODE_LENGTH * (len(CODE_ALPHABET).bit_length() - 1)
#: Most codes a vote may issue (as the API's ``n_participants``).
MAX_CODES = 5000
#: Most ballots one paper count may hold per theme (a slip of a key, not a forum).
_MAX_PAPER = 100_000
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = str.maketrans("", "", " -_.\t\n")


class WrongCodeError(QetGeoError):
    """A participant code that is no code of the vote (the caller counts it as a failure)."""


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


def _missing_vote(vote_id: int) -> NotFoundError:
    return NotFoundError(msg("le vote {vote_id} n'existe pas.", vote_id=vote_id))


def _closed() -> ConflictError:
    return ConflictError(msg("ce vote est clos."))


def _spent() -> ConflictError:
    return ConflictError(msg("ce code de participant a déjà voté."))


def open_vote(
    session: Session, diagnostic_id: int, question: str, themes: list[str], n_codes: int
) -> tuple[Vote, list[str]]:
    """Open a vote on ``themes`` and issue ``n_codes`` participant codes.

    Returns the vote and its codes as printed (:func:`display_code`), in sorted order: the
    only time they exist; the store keeps their keyed hashes only.

    Raises
    ------
    ValidationError
        An empty question, fewer than two themes, themes not distinct or empty, or a number of
        codes out of 1 to :data:`MAX_CODES`.
    """
    themes = [t.strip() for t in themes]
    if not question.strip() or len(question) > 500:
        raise ValidationError(msg("la question doit compter de 1 à 500 caractères."))
    if len(themes) < 2 or len(themes) > 30:
        raise ValidationError(msg("un vote porte sur 2 à 30 thèmes."))
    if len(set(themes)) != len(themes) or not all(themes):
        raise ValidationError(msg("les thèmes doivent être distincts et non vides."))
    if not 1 <= n_codes <= MAX_CODES:
        raise ValidationError(msg("le nombre de codes doit aller de 1 à {n}.", n=MAX_CODES))
    vote = Vote(diagnostic_id=diagnostic_id, question=question, themes=themes)
    session.add(vote)
    session.flush()
    codes: set[str] = set()
    while len(codes) < n_codes:
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
    return vote, [display_code(c) for c in sorted(codes)]


def cast_ballot(session: Session, vote_id: int, code: str, choices: list[str]) -> None:
    """Cast a ballot naming ``choices`` (themes of the vote) with a participant code.

    Raises
    ------
    NotFoundError
        No such vote.
    WrongCodeError
        The code is no code of this vote (the caller counts the failure against the client).
    ConflictError
        The vote is closed, or the code has voted already.
    ValidationError
        Choices that are not distinct themes of the vote.
    """
    # the vote's row lock (PostgreSQL) puts its ballots and its closing in one order
    vote = session.scalars(select(Vote).where(Vote.id == vote_id).with_for_update()).first()
    if vote is None:
        raise _missing_vote(vote_id)
    canonical = canonical_code(code)
    digest = None if canonical is None else _digest(vote.id, canonical)
    row = None if digest is None else session.get(VoteCode, (vote.id, digest))
    if row is None or digest is None:
        raise WrongCodeError(msg("ce code de participant n'est pas un code de ce vote."))
    if not vote.is_open:
        raise _closed()
    themes = list(vote.themes)
    unknown = sorted(set(choices) - set(themes))
    if unknown or not choices or len(set(choices)) != len(choices):
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
    chosen = [themes.index(c) for c in choices]
    session.execute(
        update(BallotCount)
        .where(BallotCount.vote_id == vote.id)
        .values(n=BallotCount.n + case((BallotCount.position.in_(chosen), 1), else_=0))
        .execution_options(synchronize_session=False)
    )


def close_vote(session: Session, vote: Vote) -> Vote:
    """Close a vote: no ballot is accepted afterwards."""
    vote.is_open = False
    session.flush()
    return vote


def n_online_ballots(session: Session, vote_id: int) -> int:
    """Return the number of online ballots of a vote: its spent codes."""
    return int(
        session.scalar(
            select(func.count()).where(and_(VoteCode.vote_id == vote_id, VoteCode.spent))
        )
        or 0
    )


def protected_counts(counts: dict[str, int]) -> dict[str, int | None]:
    """Withhold the counts of 1 to 10 ballots, and one more when only one is withheld.

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


# --------------------------------------------------------------------------------------------------
# paper ballots


@dataclass(frozen=True)
class PaperResult:
    """The paper count of a vote as the two counters' entries give it.

    ``status``: "none" (no entry), "one" (one entry: a second member must count), "differ" (the
    entries of different members do not agree: recount), "agree" (two entries by different
    members agree: ``counts`` per theme position and ``blank`` are the paper result).
    """

    status: Literal["none", "one", "differ", "agree"]
    n_entries: int
    counts: list[int] = field(default_factory=list)
    blank: int = 0

    @property
    def n_ballots(self) -> int:
        """Paper ballots of the agreed count (one theme or blank each); 0 unless agreed."""
        return sum(self.counts) + self.blank if self.status == "agree" else 0


def record_paper_count(
    session: Session, vote: Vote, user_id: int, counts: list[int], blank: int
) -> PaperCount:
    """Record one member's count of the paper ballots: ballots per theme (in the vote's order)
    and blank ones.

    Raises
    ------
    ValidationError
        Not one whole number from 0 on per theme, or a negative blank count.
    ConflictError
        The vote is closed (its published results must not change afterwards: a later paper
        count would give away the paper part by difference), or this member has entered a
        count for this vote already (withdraw it to enter it again).
    """
    if not vote.is_open:
        raise _closed()
    if len(counts) != len(vote.themes):
        raise ValidationError(
            msg("le décompte doit donner un nombre par thème ({n} thèmes).", n=len(vote.themes))
        )
    if any(not 0 <= n <= _MAX_PAPER for n in [*counts, blank]):
        raise ValidationError(
            msg("chaque nombre du décompte doit être un entier de 0 à {n}.", n=_MAX_PAPER)
        )
    taken = session.scalar(
        select(PaperCount.id).where(PaperCount.vote_id == vote.id, PaperCount.user_id == user_id)
    )
    if taken is not None:
        raise ConflictError(
            msg(
                "vous avez déjà saisi un décompte papier pour ce vote : un second membre de "
                "l'équipe doit saisir le sien, ou retirez le vôtre pour le saisir à nouveau."
            )
        )
    row = PaperCount(vote_id=vote.id, user_id=user_id, counts=list(counts), blank=blank)
    session.add(row)
    try:
        session.flush()
    except IntegrityError as err:  # entered meanwhile by a concurrent request
        raise ConflictError(msg("vous avez déjà saisi un décompte papier pour ce vote.")) from err
    return row


def withdraw_paper_count(session: Session, vote: Vote, user_id: int) -> bool:
    """Withdraw a member's own paper count (to enter it again); whether there was one.

    Raises
    ------
    ConflictError
        The vote is closed: its paper result is settled.
    """
    if not vote.is_open:
        raise _closed()
    vote_id = vote.id
    done = session.execute(
        delete(PaperCount).where(PaperCount.vote_id == vote_id, PaperCount.user_id == user_id)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def paper_entry(session: Session, vote_id: int, user_id: int) -> PaperCount | None:
    """A member's own paper count of a vote (None if not entered): the only entry a page shows
    to its member; the other counter's numbers are never shown."""
    return session.scalar(
        select(PaperCount).where(PaperCount.vote_id == vote_id, PaperCount.user_id == user_id)
    )


def paper_result(session: Session, vote_id: int) -> PaperResult:
    """The paper result of a vote: the count of two entries by different members that agree.

    Neither entry's numbers are part of the answer unless two agree, so a page can show the
    status to a second counter without giving away the first one's numbers.
    """
    rows = list(
        session.scalars(
            select(PaperCount).where(PaperCount.vote_id == vote_id).order_by(PaperCount.id)
        )
    )
    if not rows:
        return PaperResult("none", 0)
    for i, a in enumerate(rows):
        for b in rows[i + 1 :]:
            same = [int(n) for n in a.counts] == [int(n) for n in b.counts]
            if a.user_id != b.user_id and same and a.blank == b.blank:
                return PaperResult("agree", len(rows), [int(n) for n in a.counts], int(a.blank))
    return PaperResult("one" if len(rows) == 1 else "differ", len(rows))


# --------------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class Results:
    """A vote's results as they may be published.

    ``published`` is false while the vote is open (``reason`` "open") or under 11 ballots in all
    (``reason`` "few"); then ``counts`` is empty and ``n_ballots`` shown from 11 only. Once
    published, ``counts`` per theme (online + agreed paper) withholds 1 to 10 (None), with its
    complement; ``n_online`` and ``n_paper`` are both shown only when each is 0 or at least 11
    (one withheld would be the total minus the other); ``blank`` likewise (None when withheld).
    ``chosen`` is the theme with the most ballots, None on a tie.
    """

    is_open: bool
    n_ballots: int | None
    published: bool
    reason: Literal["open", "few"] | None
    counts: dict[str, int | None]
    n_online: int | None = None
    n_paper: int | None = None
    blank: int | None = None
    paper: PaperResult = PaperResult("none", 0)
    chosen: str | None = None

    @property
    def withheld(self) -> bool:
        """Whether some theme's count is withheld (1 to 10 ballots, or its complement)."""
        return any(n is None for n in self.counts.values())


def _shown(n: int) -> int | None:
    return n if n >= MIN_RESPONDENTS else None


def vote_results(session: Session, vote: Vote) -> Results:
    """Count a vote's ballots per theme, online and agreed paper, under the rules of
    ``docs/privacy.md`` (rule 6): nothing while open, nothing under 11 ballots in all."""
    online = n_online_ballots(session, vote.id)
    paper = paper_result(session, vote.id)
    total = online + paper.n_ballots
    if vote.is_open or total < MIN_RESPONDENTS:
        return Results(
            is_open=vote.is_open,
            n_ballots=_shown(total),
            published=False,
            reason="open" if vote.is_open else "few",
            counts={},
            paper=paper,
        )
    stored = dict(
        session.execute(
            select(BallotCount.position, BallotCount.n).where(BallotCount.vote_id == vote.id)
        ).all()
    )
    raw = {t: int(stored.get(i, 0)) for i, t in enumerate(vote.themes)}
    if paper.status == "agree":
        for i, t in enumerate(vote.themes):
            raw[t] += paper.counts[i] if i < len(paper.counts) else 0
    # blank paper ballots are a count like the themes': protected with them (key not a theme's)
    blank_key = "\x00blank"
    shown = protected_counts({**raw, blank_key: paper.blank if paper.status == "agree" else 0})
    blank = shown.pop(blank_key)
    split_ok = all(n == 0 or n >= MIN_RESPONDENTS for n in (online, paper.n_ballots))
    best = max(raw.values())
    leaders = [t for t, n in raw.items() if n == best]
    return Results(
        is_open=False,
        n_ballots=total,
        published=True,
        reason=None,
        counts=shown,
        n_online=online if split_ok else None,
        n_paper=paper.n_ballots if split_ok else None,
        blank=blank,
        paper=paper,
        chosen=leaders[0] if len(leaders) == 1 and best > 0 else None,
    )
