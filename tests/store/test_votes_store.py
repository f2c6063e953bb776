"""The vote's store (:mod:`qet_geo.store.votes`): paper counts reconciled by two members, the
results of online and paper ballots together, and the 11-ballot rule on them and on their split."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from qet_geo.errors import ValidationError
from qet_geo.store import models as store
from qet_geo.store import votes

THEMES = ["Alimentation", "Mobilité", "Logement"]


@dataclass
class Box:
    session: Session
    vote: store.Vote
    codes: list[str]
    users: list[int]


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Box]:
    engine = store.make_engine(f"sqlite:///{tmp_path / 'qet.db'}")
    store.create_schema(engine)
    with store.session_scope(engine) as s:
        hood = store.add_neighbourhood(s, name="Kervénanec")
        diag = store.Diagnostic(neighbourhood_id=hood.id, year=0)
        s.add(diag)
        users = [
            store.User(email=f"p{i}@ex.example", password_hash="-", role="pilot") for i in range(3)
        ]
        s.add_all(users)
        s.flush()
        vote, codes = votes.open_vote(s, diag.id, "Quel thème ?", THEMES, 40)
        yield Box(s, vote, codes, [u.id for u in users])
    engine.dispose()


def _online(box: Box, n: int, theme: str = "Alimentation", start: int = 0) -> None:
    for code in box.codes[start : start + n]:
        votes.cast_ballot(box.session, box.vote.id, code, [theme])


def test_codes_are_shown_once_and_stored_as_keyed_hashes(box: Box) -> None:
    assert len(set(box.codes)) == 40
    assert all(len(c) == 14 and c[4] == c[9] == "-" for c in box.codes)
    stored = {r.code_hmac for r in box.session.query(store.VoteCode)}
    assert not any(c.replace("-", "") in h for c in box.codes for h in stored)


def test_a_code_votes_once_and_a_wrong_code_is_told_apart(box: Box) -> None:
    votes.cast_ballot(box.session, box.vote.id, box.codes[0].lower(), ["Mobilité"])
    with pytest.raises(store.ConflictError):
        votes.cast_ballot(box.session, box.vote.id, box.codes[0], ["Mobilité"])
    with pytest.raises(votes.WrongCodeError):
        votes.cast_ballot(box.session, box.vote.id, "0000-0000-0000", ["Mobilité"])
    with pytest.raises(ValidationError):
        votes.cast_ballot(box.session, box.vote.id, box.codes[1], ["Autre"])
    votes.close_vote(box.session, box.vote)
    with pytest.raises(store.ConflictError):
        votes.cast_ballot(box.session, box.vote.id, box.codes[2], ["Mobilité"])


def test_paper_counts_agree_only_between_two_members(box: Box) -> None:
    a, b, c = box.users
    assert votes.paper_result(box.session, box.vote.id).status == "none"
    votes.record_paper_count(box.session, box.vote, a, [5, 3, 2], 1)
    one = votes.paper_result(box.session, box.vote.id)
    # the second counter learns that a count exists, never its numbers
    assert (one.status, one.counts, one.blank, one.n_ballots) == ("one", [], 0, 0)
    with pytest.raises(store.ConflictError):  # the same member twice
        votes.record_paper_count(box.session, box.vote, a, [5, 3, 2], 1)
    votes.record_paper_count(box.session, box.vote, b, [5, 3, 2], 2)  # one blank more
    differ = votes.paper_result(box.session, box.vote.id)
    assert (differ.status, differ.counts, differ.n_ballots) == ("differ", [], 0)
    # a third member recounts and agrees with the first
    votes.record_paper_count(box.session, box.vote, c, [5, 3, 2], 1)
    agree = votes.paper_result(box.session, box.vote.id)
    assert (agree.status, agree.counts, agree.blank, agree.n_ballots) == ("agree", [5, 3, 2], 1, 11)
    # b withdraws theirs and enters it again, right this time
    assert votes.withdraw_paper_count(box.session, box.vote, b)
    assert votes.paper_entry(box.session, box.vote.id, b) is None
    votes.record_paper_count(box.session, box.vote, b, [5, 3, 2], 1)
    assert votes.paper_result(box.session, box.vote.id).status == "agree"


def test_a_paper_count_is_one_whole_number_per_theme(box: Box) -> None:
    for counts, blank in (([1, 2], 0), ([1, 2, -1], 0), ([1, 2, 3], -4)):
        with pytest.raises(ValidationError):
            votes.record_paper_count(box.session, box.vote, box.users[0], counts, blank)


def test_results_wait_for_closing_and_eleven_ballots(box: Box) -> None:
    _online(box, 6)
    votes.record_paper_count(box.session, box.vote, box.users[0], [2, 1, 0], 1)
    votes.record_paper_count(box.session, box.vote, box.users[1], [2, 1, 0], 1)
    opened = votes.vote_results(box.session, box.vote)
    assert (opened.published, opened.reason, opened.counts) == (False, "open", {})
    votes.close_vote(box.session, box.vote)
    few = votes.vote_results(box.session, box.vote)  # 6 online + 4 paper = 10
    assert (few.published, few.reason, few.n_ballots, few.counts) == (False, "few", None, {})


def test_totals_add_the_agreed_paper_count_and_show_the_split_from_eleven(box: Box) -> None:
    _online(box, 12, "Alimentation")
    _online(box, 11, "Mobilité", start=12)
    votes.record_paper_count(box.session, box.vote, box.users[0], [4, 6, 0], 1)
    votes.record_paper_count(box.session, box.vote, box.users[1], [4, 6, 0], 1)
    votes.close_vote(box.session, box.vote)
    results = votes.vote_results(box.session, box.vote)
    assert results.published and results.n_ballots == 23 + 11
    # one blank paper ballot: withheld, and with it the smallest other count (else the total
    # minus the shown counts would give it back)
    assert results.blank is None
    assert results.counts == {"Alimentation": None, "Mobilité": 17, "Logement": 0}
    assert (results.n_online, results.n_paper) == (23, 11)
    assert results.chosen == "Mobilité"


def test_the_split_is_withheld_when_one_part_has_1_to_10_ballots(box: Box) -> None:
    _online(box, 20, "Alimentation")
    votes.record_paper_count(box.session, box.vote, box.users[0], [0, 3, 0], 0)
    votes.record_paper_count(box.session, box.vote, box.users[1], [0, 3, 0], 0)
    votes.close_vote(box.session, box.vote)
    results = votes.vote_results(box.session, box.vote)
    assert results.published and results.n_ballots == 23
    # 3 paper ballots: neither part is shown (the total minus one would give the other)
    assert (results.n_online, results.n_paper) == (None, None)
    # Mobilité's 3 is withheld; with one withheld count, its complement goes too
    assert results.counts == {"Alimentation": None, "Mobilité": None, "Logement": 0}


def test_differing_paper_counts_add_nothing(box: Box) -> None:
    _online(box, 11, "Logement")
    votes.record_paper_count(box.session, box.vote, box.users[0], [20, 0, 0], 0)
    votes.record_paper_count(box.session, box.vote, box.users[1], [21, 0, 0], 0)
    votes.close_vote(box.session, box.vote)
    results = votes.vote_results(box.session, box.vote)
    assert results.n_ballots == 11 and results.paper.status == "differ"
    assert (results.n_online, results.n_paper) == (11, 0)
    assert results.counts == {"Alimentation": 0, "Mobilité": 0, "Logement": 11}
    assert results.chosen == "Logement"


def test_paper_counts_are_settled_at_closing(box: Box) -> None:
    votes.record_paper_count(box.session, box.vote, box.users[0], [1, 0, 0], 0)
    votes.close_vote(box.session, box.vote)
    # a count entered or withdrawn after the results are out would give the paper part away
    with pytest.raises(store.ConflictError):
        votes.record_paper_count(box.session, box.vote, box.users[1], [1, 0, 0], 0)
    with pytest.raises(store.ConflictError):
        votes.withdraw_paper_count(box.session, box.vote, box.users[0])
    assert votes.paper_result(box.session, box.vote.id).status == "one"
