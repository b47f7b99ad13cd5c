"""The application status machine (DESIGN.md §1): every allowed transition, in one table."""

from __future__ import annotations

from loanflow.errors import InvalidTransition
from loanflow.models import ApplicationStatus as S

TERMINAL: frozenset[S] = frozenset({S.DECLINED, S.FUNDED, S.EXPIRED, S.CANCELLED, S.FAILED})
"""Statuses an application never leaves."""

WAITING: frozenset[S] = frozenset({S.IN_REVIEW, S.AWAITING_SIGNATURE})
"""Statuses in which the platform legitimately waits for a person."""

ALLOWED: dict[S, frozenset[S]] = {
    S.DRAFT: frozenset({S.SUBMITTED, S.CANCELLED}),
    S.SUBMITTED: frozenset({S.IN_PROGRESS, S.CANCELLED, S.FAILED}),
    S.IN_PROGRESS: frozenset({S.DECLINED, S.IN_REVIEW, S.APPROVED, S.FAILED}),
    S.IN_REVIEW: frozenset({S.APPROVED, S.DECLINED, S.EXPIRED, S.FAILED}),
    S.APPROVED: frozenset({S.AWAITING_SIGNATURE, S.EXPIRED, S.CANCELLED, S.FAILED}),
    S.AWAITING_SIGNATURE: frozenset({S.SIGNED, S.EXPIRED, S.CANCELLED, S.FAILED}),
    S.SIGNED: frozenset({S.DISBURSING, S.FAILED}),
    S.DISBURSING: frozenset({S.FUNDED, S.FAILED}),
    S.DECLINED: frozenset(),
    S.FUNDED: frozenset(),
    S.EXPIRED: frozenset(),
    S.CANCELLED: frozenset(),
    S.FAILED: frozenset(),
}


def can_transition(current: S, target: S) -> bool:
    return target in ALLOWED[current]


def check_transition(current: S, target: S) -> None:
    """Raise :class:`InvalidTransition` unless ``current → target`` is in the table."""
    if not can_transition(current, target):
        raise InvalidTransition(current.value, target.value)
