"""The application status machine of DESIGN.md §1."""

from __future__ import annotations

from itertools import pairwise

import pytest

from loanflow.errors import InvalidTransition
from loanflow.models import ApplicationStatus as S
from loanflow.status import ALLOWED, TERMINAL, can_transition, check_transition

HAPPY_PATH = [
    S.DRAFT,
    S.SUBMITTED,
    S.IN_PROGRESS,
    S.APPROVED,
    S.AWAITING_SIGNATURE,
    S.SIGNED,
    S.DISBURSING,
    S.FUNDED,
]


def test_every_status_has_a_row() -> None:
    assert set(ALLOWED) == set(S)


def test_the_happy_path_is_allowed() -> None:
    for current, target in pairwise(HAPPY_PATH):
        check_transition(current, target)


def test_review_can_approve_or_decline() -> None:
    assert can_transition(S.IN_PROGRESS, S.IN_REVIEW)
    assert can_transition(S.IN_REVIEW, S.APPROVED)
    assert can_transition(S.IN_REVIEW, S.DECLINED)


@pytest.mark.parametrize("terminal", sorted(TERMINAL))
def test_terminal_statuses_never_change(terminal: S) -> None:
    for target in S:
        with pytest.raises(InvalidTransition):
            check_transition(terminal, target)


def test_skipping_steps_is_refused() -> None:
    with pytest.raises(InvalidTransition, match="DRAFT to FUNDED"):
        check_transition(S.DRAFT, S.FUNDED)
    assert not can_transition(S.SUBMITTED, S.APPROVED)
    assert not can_transition(S.APPROVED, S.DISBURSING)


def test_every_non_terminal_status_can_fail_or_be_left() -> None:
    # "nothing is ever left RUNNING forever": from any open status there is an exit.
    for status, targets in ALLOWED.items():
        if status not in TERMINAL:
            assert targets & (TERMINAL | {S.SUBMITTED}), status
