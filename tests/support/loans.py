"""Applications at the payout stage (APPROVED with an offer, or further), and the bank simulator,
for the contract and payout tests."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from loanflow.models import Application, ApplicationRequest, ApplicationStatus, Decision
from loanflow.pricing import make_offer
from loanflow.repository import ApplicationRepository
from tests.support.identities import application_body

S = ApplicationStatus


def approved_application(
    repo: ApplicationRepository,
    *,
    tier: str = "A",
    owner: str = "user-1",
    amount: str = "5000.00",
    seed: int = 7,
    offer_expires_in: timedelta = timedelta(days=7),
) -> Application:
    """An application the workflow has approved and priced (status APPROVED, offer attached)."""
    request = ApplicationRequest.model_validate(
        application_body(random.Random(seed), amount=amount)
    )
    app = repo.create(owner, request, actor=f"user:{owner}")
    now = datetime.now(UTC)
    repo.transition(
        app.id, S.SUBMITTED, actor=f"user:{owner}", set_fields={"extra.submitted_at": now}
    )
    repo.transition(app.id, S.IN_PROGRESS, actor="workflow")
    offer = make_offer(
        requested_amount=Decimal(amount),
        line=Decimal(amount) * 2,
        apr=Decimal("0.1800"),
        term_months=12,
        start=date(2026, 12, 3),
        now=now - timedelta(days=7) + offer_expires_in,
    )
    decision = Decision(outcome="approved", tier=tier, score=720, pd=0.03)
    return repo.transition(
        app.id, S.APPROVED, actor="workflow", set_fields={"decision": decision, "offer": offer}
    )


def signed_application(repo: ApplicationRepository, **kwargs: Any) -> Application:
    """An application whose applicant has signed (status SIGNED), skipping the contract itself."""
    app = approved_application(repo, **kwargs)
    repo.transition(app.id, S.AWAITING_SIGNATURE, actor="contracts")
    return repo.transition(
        app.id, S.SIGNED, actor="user", set_fields={"extra.signature": {"sha256": "0" * 64}}
    )


@pytest.fixture
def bank(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A healthy bank simulator; functions reach it through BANK_API_URL."""
    from localcloud import bank_sim

    with bank_sim.serve(seed=1) as server:
        monkeypatch.setenv("BANK_API_URL", server.url)
        monkeypatch.setenv("BANK_TIMEOUT_S", "0.5")
        monkeypatch.setenv("BANK_BACKOFF_S", "0")
        yield server


def drop_tls_only_policy(resources: Any) -> None:
    """moto ignores a bucket policy's Conditions, so the contracts bucket's TLS-only Deny
    (``aws:SecureTransport = false``) would deny every request there; the policy itself is checked
    in tests/infra. Remove it from the emulated bucket so the functions can be exercised."""
    import boto3

    boto3.client("s3").delete_bucket_policy(Bucket=resources.names["ContractsBucket"])


@pytest.fixture(scope="module", name="payout_cloud")
def payout_cloud_fixture() -> Iterator[Any]:
    """Like ``resources`` but provisioned once per test module (provisioning takes seconds):
    payout tests use fresh ids, so they share one emulated account without seeing each other."""
    from moto import mock_aws

    from loanflow import contract
    from loanflow.http import contracts
    from localcloud.provision import function_environment, provision
    from tests.conftest import clear_process_caches, template

    patch = pytest.MonkeyPatch()
    with mock_aws():
        clear_process_caches()
        tpl = template()
        created = provision(tpl, region="us-east-1")
        for logical_id, resource in tpl["Resources"].items():
            if resource.get("Type") == "AWS::Serverless::Function":
                for key, value in function_environment(tpl, logical_id, created).items():
                    patch.setenv(key, value)
        clear_process_caches()
        contract.contract_settings.cache_clear()
        contracts.payout_store.cache_clear()
        drop_tls_only_policy(created)
        yield created
    patch.undo()
    clear_process_caches()
