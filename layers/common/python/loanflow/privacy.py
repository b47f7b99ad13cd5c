"""Data rights (PIPL): a user may have their personal data erased once no active loan needs it.

- An application still being decided, signed or paid out blocks erasure (409): finish or cancel it.
- A funded loan is an active contract: its identity data is kept for as long as the law requires
  (contract performance, anti-money-laundering record keeping) and reported as retained.
- Uploaded documents (photos and records) go too, except those of retained applications.
- Every other application — drafts (cancelled first), declined, expired, cancelled, failed — keeps
  only what the law needs (amounts, dates, decision, status, audit trail) and loses the person:
  sealed PII, keyed hashes, name, address and device are removed, with a timeline event.
"""

from __future__ import annotations

from pydantic import BaseModel

from loanflow.documents import document_repository
from loanflow.errors import Conflict
from loanflow.models import ApplicationStatus as S
from loanflow.observability import logger
from loanflow.repository import ApplicationRepository

IN_FLIGHT: frozenset[S] = frozenset(
    {
        S.SUBMITTED,
        S.IN_PROGRESS,
        S.IN_REVIEW,
        S.APPROVED,
        S.AWAITING_SIGNATURE,
        S.SIGNED,
        S.DISBURSING,
    }
)
KEPT_BY_LAW: frozenset[S] = frozenset({S.FUNDED})


class ErasureReport(BaseModel):
    erased: list[str]
    retained: list[str]
    documents_erased: int = 0
    retained_reason: str | None = None


class ErasureBlocked(Conflict):
    code = "erasure_blocked"


def erase_personal_data(repo: ApplicationRepository, owner_id: str) -> ErasureReport:
    """Erase the caller's personal data where nothing needs it; say what was kept and why."""
    summaries = repo.all_for_owner(owner_id)
    busy = [s.id for s in summaries if s.status in IN_FLIGHT]
    if busy:
        raise ErasureBlocked(
            f"{len(busy)} application(s) are still being processed; wait for them to finish "
            "or cancel them, then ask again",
            field="applications",
        )
    actor = f"user:{owner_id}"
    erased: list[str] = []
    retained: list[str] = []
    for summary in summaries:
        if summary.status in KEPT_BY_LAW:
            retained.append(summary.id)
            continue
        if summary.status == S.DRAFT:
            repo.transition(summary.id, S.CANCELLED, actor=actor, reason="erasure requested")
        repo.erase_personal_data(summary.id, actor=actor, reason="erasure requested by the user")
        erased.append(summary.id)
    documents = document_repository().erase_for_owner(
        owner_id, keep_applications=frozenset(retained)
    )
    logger.info(
        "personal data erased",
        extra={"erased": len(erased), "retained": len(retained), "documents": len(documents)},
    )
    return ErasureReport(
        erased=erased,
        retained=retained,
        documents_erased=len(documents),
        retained_reason=(
            "funded loans are active contracts: their identity data is kept as the law requires"
            if retained
            else None
        ),
    )
