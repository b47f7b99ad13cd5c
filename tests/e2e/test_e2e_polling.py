"""After submit, the real workflow runs on the local cloud and the status moves on its own."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Api

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DECIDING = {"DRAFT", "SUBMITTED", "IN_PROGRESS"}


def test_submitted_application_gets_a_decision_by_polling(api: Api) -> None:
    created = api.create(user="user-submit")
    path = f"/applications/{created['id']}"

    submitted = api.call("POST", f"{path}/submit", user="user-submit")
    assert submitted.status_code == 202, submitted.text
    decided = api.wait_for(path, lambda body: body["status"] not in DECIDING, user="user-submit")

    assert decided["status"] in {"DECLINED", "IN_REVIEW", "APPROVED", "AWAITING_SIGNATURE"}
    assert decided["decision"]["outcome"] in {"approved", "declined", "review"}
