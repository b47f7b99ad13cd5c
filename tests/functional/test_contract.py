"""PrepareContract, AwaitSignature, ExpireOffer and the contract routes, on moto."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import boto3
import pytest

from loanflow import contract
from loanflow.models import ApplicationStatus as S
from loanflow.repository import application_repository
from tests.support.apigw import call, http_event
from tests.support.handlers import load_handler_module
from tests.support.loans import approved_application, payout_cloud_fixture  # noqa: F401


@pytest.fixture
def resources(payout_cloud: Any) -> Any:
    return payout_cloud


@pytest.fixture
def repo(payout_cloud: Any) -> Any:
    return application_repository()


@pytest.fixture
def prepared(repo: Any, lambda_context: Any) -> Any:
    """An approved application whose contract is prepared and which awaits the signature."""
    app = approved_application(repo)
    load_handler_module("prepare_contract").handler({"application_id": app.id}, lambda_context)
    event = {"state": {"application_id": app.id}, "task_token": "token-1"}
    load_handler_module("await_signature").handler(event, lambda_context)
    return repo.get(app.id)


class RouterApi:
    """The contracts router behind a resolver with the API's error mapping (as functions/api has)."""

    def __init__(self) -> None:
        from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

        from loanflow.http import contracts
        from loanflow.http.errors import register_error_handlers

        contracts.payout_store.cache_clear()
        self.app = APIGatewayHttpResolver(enable_validation=True)
        register_error_handlers(self.app)
        self.app.include_router(contracts.router)

    def handler(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        return self.app.resolve(event, context)


@pytest.fixture
def api(resources: Any) -> Any:
    return RouterApi()


def test_prepare_contract_stores_a_signed_pdf(repo: Any, resources: Any, lambda_context: Any):
    # given
    app = approved_application(repo)
    # when
    part = load_handler_module("prepare_contract").handler(
        {"application_id": app.id}, lambda_context
    )
    # then the PDF is in the private bucket, encrypted with KMS, and its hash is on the application
    record = contract.contract_of(repo.get(app.id))
    assert record is not None
    assert part["sha256"] == record.sha256
    s3 = boto3.client("s3")
    obj = s3.get_object(Bucket=resources.names["ContractsBucket"], Key=record.s3_key)
    pdf = obj["Body"].read()
    assert obj["ServerSideEncryption"] == "aws:kms"
    assert pdf.startswith(b"%PDF")
    assert contract.sha256_hex(pdf) == record.sha256
    assert b"/FontFile2" in pdf  # the CJK font is embedded (subset), so Chinese renders anywhere
    # and KMS confirms the platform's signature over exactly that hash
    key_id = record.signing_key_id
    assert contract.verify_digest(record.sha256, record.platform_signature, key_id=key_id)
    assert not contract.verify_digest("ab" * 32, record.platform_signature, key_id=key_id)


def test_prepare_contract_twice_keeps_one_contract(repo: Any, lambda_context: Any) -> None:
    app = approved_application(repo)
    fn = load_handler_module("prepare_contract")
    first = fn.handler({"application_id": app.id}, lambda_context)
    second = fn.handler({"application_id": app.id}, lambda_context)
    assert first == second
    actions = [e.action for e in repo.timeline(app.id)]
    assert actions.count("contract_prepared") == 1


def test_the_contract_is_deterministic_for_the_same_offer(repo: Any) -> None:
    app = approved_application(repo)
    terms = contract.ContractTerms.of(app)
    assert contract.render_pdf(terms) == contract.render_pdf(terms)


def test_await_signature_keeps_the_token(prepared: Any) -> None:
    assert prepared.status == S.AWAITING_SIGNATURE
    assert prepared.extra["signature_task_token"] == "token-1"


def test_owner_gets_link_hash_and_signature(api: Any, prepared: Any, lambda_context: Any) -> None:
    status, body = call(
        api, http_event("GET", f"/applications/{prepared.id}/contract"), lambda_context
    )
    assert status == 200, body
    record = contract.contract_of(prepared)
    assert record is not None
    assert body["sha256"] == record.sha256
    assert body["platform_signature"] == record.platform_signature
    assert base64.b64decode(body["platform_signature"])
    assert record.s3_key in body["download_url"]
    assert "Signature" in body["download_url"]


def test_another_user_cannot_see_the_contract(api: Any, prepared: Any, lambda_context: Any) -> None:
    event = http_event("GET", f"/applications/{prepared.id}/contract", user="user-2")
    status, body = call(api, event, lambda_context)
    assert status == 404
    assert body["error"]["code"] == "application_not_found"


def test_signing_records_consent_and_is_harmless_twice(
    api: Any, repo: Any, prepared: Any, lambda_context: Any
) -> None:
    event = http_event(
        "POST",
        f"/applications/{prepared.id}/contract/sign",
        body={"consent": True},
        headers={"user-agent": "loanflow-app/3.2.1"},
    )
    # when
    first = call(api, event, lambda_context)
    second = call(api, event, lambda_context)
    # then
    assert first[0] == 202
    assert second[0] == 202
    assert first[1]["status"] == "SIGNED"
    app = repo.get(prepared.id)
    consent = contract.consent_of(app)
    assert consent is not None
    assert consent.sha256 == contract.contract_of(app).sha256  # type: ignore[union-attr]
    assert consent.ip
    assert consent.user_agent
    assert [e.to_status for e in repo.timeline(app.id)].count(S.SIGNED) == 1


def test_consent_must_be_given(api: Any, prepared: Any, lambda_context: Any) -> None:
    event = http_event(
        "POST", f"/applications/{prepared.id}/contract/sign", body={"consent": False}
    )
    status, body = call(api, event, lambda_context)
    assert status == 422
    assert body["error"]["field"] == "consent"


def test_signing_an_expired_offer_is_a_conflict(
    api: Any, repo: Any, prepared: Any, lambda_context: Any
) -> None:
    load_handler_module("expire_offer").handler({"application_id": prepared.id}, lambda_context)
    event = http_event("POST", f"/applications/{prepared.id}/contract/sign", body={"consent": True})
    status, body = call(api, event, lambda_context)
    assert status == 409
    assert body["error"]["code"] == "offer_expired"
    assert repo.get(prepared.id).status == S.EXPIRED


def test_an_offer_past_its_expiry_cannot_be_signed(
    api: Any, repo: Any, resources: Any, lambda_context: Any
) -> None:
    app = approved_application(repo, offer_expires_in=timedelta(seconds=-1))
    load_handler_module("prepare_contract").handler({"application_id": app.id}, lambda_context)
    event = {"state": {"application_id": app.id}, "task_token": "t"}
    load_handler_module("await_signature").handler(event, lambda_context)
    sign = http_event("POST", f"/applications/{app.id}/contract/sign", body={"consent": True})
    status, body = call(api, sign, lambda_context)
    assert status == 409
    assert body["error"]["code"] == "offer_expired"


def test_expiry_after_a_last_moment_signature_lets_the_loan_go_on(
    api: Any, prepared: Any, lambda_context: Any
) -> None:
    sign = http_event("POST", f"/applications/{prepared.id}/contract/sign", body={"consent": True})
    call(api, sign, lambda_context)
    part = load_handler_module("expire_offer").handler(
        {"application_id": prepared.id}, lambda_context
    )
    assert part == {"expired": False, "signed": True}
