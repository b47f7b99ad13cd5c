"""ApplicationRepository on moto: optimistic locking, the audit trail, allowed transitions only."""

from __future__ import annotations

from typing import Any

import pytest

from loanflow.errors import ApplicationNotFound, ConcurrentModification, InvalidTransition
from loanflow.models import ApplicationRequest, Decision, Reason
from loanflow.models import ApplicationStatus as S
from loanflow.repository import ApplicationRepository
from tests.support.identities import application_body


@pytest.fixture
def repo(resources: Any) -> ApplicationRepository:
    return ApplicationRepository(resources.names["LoanflowTable"])


@pytest.fixture
def draft(repo: ApplicationRepository) -> Any:
    request = ApplicationRequest.model_validate(application_body())
    return repo.create("user-1", request, actor="user:user-1")


def test_every_change_bumps_the_version_and_appends_one_event(
    repo: ApplicationRepository, draft: Any
) -> None:
    repo.transition(draft.id, S.SUBMITTED, actor="user:user-1", reason="submitted")
    repo.transition(draft.id, S.IN_PROGRESS, actor="workflow")
    app = repo.get(draft.id)
    assert app.version == 3
    timeline = repo.timeline(draft.id)
    assert [(e.from_status, e.to_status) for e in timeline] == [
        (None, S.DRAFT),
        (S.DRAFT, S.SUBMITTED),
        (S.SUBMITTED, S.IN_PROGRESS),
    ]
    assert timeline[1].reason == "submitted"


def test_an_illegal_transition_raises_and_writes_nothing(
    repo: ApplicationRepository, draft: Any
) -> None:
    with pytest.raises(InvalidTransition):
        repo.transition(draft.id, S.FUNDED, actor="workflow")
    assert repo.get(draft.id).version == 1
    assert len(repo.timeline(draft.id)) == 1


def test_a_stale_version_is_refused(repo: ApplicationRepository, draft: Any) -> None:
    repo.transition(draft.id, S.SUBMITTED, actor="user:user-1", expected_version=1)
    with pytest.raises(ConcurrentModification):
        repo.update(draft.id, actor="x", action="noted", expected_version=1)
    assert len(repo.timeline(draft.id)) == 2


def test_repeating_a_transition_is_harmless(repo: ApplicationRepository, draft: Any) -> None:
    # a retried workflow task makes the same change twice
    repo.transition(draft.id, S.SUBMITTED, actor="user:user-1")
    again = repo.transition(draft.id, S.SUBMITTED, actor="user:user-1")
    assert again.version == 2
    assert len(repo.timeline(draft.id)) == 2


def test_fields_change_with_the_status_atomically(repo: ApplicationRepository, draft: Any) -> None:
    repo.transition(draft.id, S.SUBMITTED, actor="user:user-1")
    repo.transition(draft.id, S.IN_PROGRESS, actor="workflow")
    decision = Decision(
        outcome="declined", tier="D", score=480, reasons=[Reason(code="R01", text="too many debts")]
    )
    app = repo.transition(
        draft.id, S.DECLINED, actor="workflow", set_fields={"decision": decision, "extra.note": "x"}
    )
    assert app.status == S.DECLINED
    assert app.decision == decision.model_copy(update={"decided_at": app.decision.decided_at})
    assert app.extra == {"note": "x"}


def test_pii_round_trips_through_kms(repo: ApplicationRepository, draft: Any) -> None:
    assert repo.get(draft.id).request == draft.request


def test_owner_check_hides_other_users_records(repo: ApplicationRepository, draft: Any) -> None:
    assert repo.get_for_owner(draft.id, "user-1").id == draft.id
    with pytest.raises(ApplicationNotFound):
        repo.get_for_owner(draft.id, "user-2")


def test_advance_changes_the_status_without_unsealing_personal_data(
    repo: ApplicationRepository, draft: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loanflow import pii

    def no_decrypt(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("advance must not unseal personal data")

    with monkeypatch.context() as patched:
        patched.setattr(pii, "decrypt", no_decrypt)
        assert repo.advance(
            draft.id, S.SUBMITTED, actor="batch", reason="bulk", set_fields={"extra.k": "v"}
        )
        assert not repo.advance(draft.id, S.SUBMITTED, actor="batch")  # a repeat changes nothing
        with pytest.raises(InvalidTransition):
            repo.advance(draft.id, S.FUNDED, actor="batch")
    app = repo.get(draft.id)
    assert (app.status, app.version, app.extra["k"]) == (S.SUBMITTED, 2, "v")
    timeline = repo.timeline(draft.id)
    assert [(e.from_status, e.to_status, e.actor) for e in timeline][-1] == (
        S.DRAFT,
        S.SUBMITTED,
        "batch",
    )
    assert len(timeline) == 2


def test_advance_of_an_unknown_application_is_not_found(repo: ApplicationRepository) -> None:
    with pytest.raises(ApplicationNotFound):
        repo.advance("app_missing", S.SUBMITTED, actor="batch")
