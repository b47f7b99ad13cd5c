"""From an offer to the money, on the real ASL: contract, signature, instant or batch payout, expiry,
and the proof that every signed loan is paid exactly once under a failing bank (issue 6)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from loanflow import contract
from loanflow.bank import BankClient
from loanflow.http import contracts
from loanflow.payouts import LEASE_KEY, PayoutStore
from loanflow.reconcile import load_and_reconcile
from localcloud import bank_sim
from tests.conftest import FakeLambdaContext
from tests.support.decisioning import AMOUNTS, EMPLOYMENTS, INCOMES, predict
from tests.support.handlers import load_handler_module
from tests.support.identities import application_body
from tests.support.stepfunctions import visited_states, wait_for

TIERS = {
    "A": lambda v: (v.outcome, v.tier) == ("approved", "A"),
    "B": lambda v: (v.outcome, v.tier) == ("approved", "B"),
}
_bodies: dict[str, list[dict[str, Any]]] = {}


def applicants(tier: str, count: int) -> list[dict[str, Any]]:
    """``count`` distinct synthetic people the model and policy approve in ``tier``."""
    found = _bodies.setdefault(tier, [])
    at = datetime.now(UTC)
    seed = 10_000 + 5_000 * (tier == "B") + len(found) * 0
    while len(found) < count:
        seed += 1
        rng = random.Random(seed)
        body = application_body(
            rng,
            monthly_income=rng.choice(INCOMES),
            employment=rng.choice(EMPLOYMENTS),
            amount=rng.choice(AMOUNTS),
        )
        if any(b["id_number"] == body["id_number"] for b in found):
            continue
        if Decimal(str(body["amount"])) >= Decimal("500") and TIERS[tier](predict(body, at)[0]):
            found.append(body)
    return found[:count]


@pytest.fixture
def payout(cloud: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[bank_sim.BankServer]:
    """The workflow cloud (its API serves the contract routes) plus the bank simulator."""
    with bank_sim.serve(seed=2026, hang_s=0.3) as bank:
        monkeypatch.setenv("BANK_API_URL", bank.url)
        monkeypatch.setenv("BANK_TIMEOUT_S", "0.1")
        monkeypatch.setenv("BANK_BACKOFF_S", "0")
        monkeypatch.setenv("PAYOUT_RETRY_DELAY_S", "0")
        contract.contract_settings.cache_clear()
        contracts.payout_store.cache_clear()
        yield bank
    contract.contract_settings.cache_clear()
    contracts.payout_store.cache_clear()


def start(cloud: Any, body: dict[str, Any]) -> str:
    application_id = cloud.create(body)
    assert cloud.submit(application_id)[0] == 202
    cloud.drain_intake()
    return application_id


def wait_for_status(cloud: Any, application_id: str, *wanted: str, timeout_s: float = 20) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        app = cloud.application(application_id)
        if app.status in wanted:
            return app
        time.sleep(0.02)
    raise TimeoutError(f"{application_id} is {cloud.application(application_id).status}")


def sign(cloud: Any, application_id: str) -> tuple[int, Any]:
    path = f"/applications/{application_id}/contract/sign"
    return cloud.call("POST", path, body={"consent": True})


def run_batch() -> dict[str, Any]:
    return load_handler_module("batch_payout").handler(
        {"source": "schedule"}, FakeLambdaContext("loanflow-BatchPayoutFunction", 300_000)
    )


def test_tier_a_signs_and_is_funded_instantly(cloud: Any, payout: bank_sim.BankServer) -> None:
    # given an approved tier A applicant whose contract awaits the signature
    application_id = start(cloud, applicants("A", 1)[0])
    wait_for_status(cloud, application_id, "AWAITING_SIGNATURE")
    status, body = cloud.call("GET", f"/applications/{application_id}/contract")
    assert status == 200
    assert len(body["sha256"]) == 64
    # when the applicant signs
    assert sign(cloud, application_id)[0] == 202
    # then the execution pays at once and ends FUNDED
    execution = wait_for(cloud.execution_arn(application_id))
    assert execution["status"] == "SUCCEEDED", execution
    assert visited_states(execution["executionArn"])[-6:] == [
        "MakeOffer",
        "PrepareContract",
        "AwaitSignature",
        "Disburse",
        "PaidOrQueued",
        "Funded",
    ]
    app = cloud.application(application_id)
    assert app.status == "FUNDED"
    assert app.extra["time_to_funds_s"] > 0
    status, loan = cloud.call("GET", f"/loans/{app.loan_id}")
    assert status == 200
    assert loan["payout_status"] == "SENT"
    assert loan["payout_channel"] == "instant"
    assert [t["reference"] for t in payout.app.state.statement()] == [app.loan_id]


def test_tier_b_waits_for_the_scheduled_batch(cloud: Any, payout: bank_sim.BankServer) -> None:
    application_id = start(cloud, applicants("B", 1)[0])
    wait_for_status(cloud, application_id, "AWAITING_SIGNATURE")
    sign(cloud, application_id)
    execution = wait_for(cloud.execution_arn(application_id))
    assert visited_states(execution["executionArn"])[-1] == "QueuedForBatchPayout"
    assert cloud.application(application_id).status == "DISBURSING"
    # when the schedule fires
    report = run_batch()
    # then
    assert report["paid"] == 1
    assert cloud.application(application_id).status == "FUNDED"


def test_an_unsigned_offer_expires(
    cloud: Any, payout: bank_sim.BankServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given offers that wait one second for a signature
    monkeypatch.setenv("SIGNATURE_TIMEOUT_S", "1")
    contract.contract_settings.cache_clear()
    application_id = start(cloud, applicants("A", 1)[0])
    # when nobody signs
    execution = wait_for(cloud.execution_arn(application_id))
    # then
    assert visited_states(execution["executionArn"])[-3:] == [
        "ExpireOffer",
        "SignedAtTheLastMoment",
        "OfferExpired",
    ]
    assert cloud.application(application_id).status == "EXPIRED"
    status, body = sign(cloud, application_id)
    assert (status, body["error"]["code"]) == (409, "offer_expired")
    assert payout.app.state.statement() == []


def test_every_signed_loan_is_paid_exactly_once_under_a_failing_bank(
    cloud: Any, payout: bank_sim.BankServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a bank failing 30 % of calls (half of those after executing), timing out on 15 %
    # after executing (and surely on the next two transfers), with a fixed seed
    payout.app.failure_rate = 0.3
    payout.app.timeout_rate = 0.15
    payout.app.hang_next = 2
    # and a Disburse that crashes once between the bank's answer and the database write
    original = PayoutStore.record_paid
    crashed: list[str] = []

    def crash_once(self: PayoutStore, paid: Any, **kwargs: Any) -> set[str]:
        if not crashed:
            crashed.append(paid[0][0].id)
            raise RuntimeError("Lambda killed after the bank paid")
        return original(self, paid, **kwargs)

    monkeypatch.setattr(PayoutStore, "record_paid", crash_once)
    ids = []
    for body in applicants("A", 3) + applicants("B", 2):
        # one application at a time: moto's in-process DynamoDB is not thread-safe, and the API
        # calls below run beside the execution's own thread
        application_id = cloud.create(body)
        # and a duplicate delivery of every intake message
        assert cloud.submit(application_id)[0] == 202
        assert cloud.submit(application_id)[0] == 202
        cloud.drain_intake()
        wait_for_status(cloud, application_id, "AWAITING_SIGNATURE")
        # when the applicant signs (twice)
        assert sign(cloud, application_id)[0] == 202
        assert sign(cloud, application_id)[0] == 202
        wait_for(cloud.execution_arn(application_id), timeout_s=60)
        ids.append(application_id)
    # and the Disburse task is delivered once more for each (a duplicate Lambda invocation)
    disburse = load_handler_module("disburse")
    for application_id in ids:
        disburse.handler({"application_id": application_id}, FakeLambdaContext())
    # and the schedule fires again while a run is at the bank, then until the queue is empty
    payout.app.latency_s = 0.05
    monkeypatch.setenv("BANK_TIMEOUT_S", "1")
    store = PayoutStore(cloud.resources.names["LoanflowTable"])
    first = threading.Thread(target=run_batch)
    first.start()
    while first.is_alive() and "run_id" not in store.table.get_item(Key=LEASE_KEY).get("Item", {}):
        time.sleep(0.005)
    overlapping = run_batch()
    first.join()
    for _ in range(10):
        if all(cloud.application(i).status == "FUNDED" for i in ids):
            break
        run_batch()
    # then every signed loan is paid exactly once, and reconcile agrees
    assert crashed, "the crash was injected"
    assert overlapping["skipped"] or not first.is_alive()
    assert payout.app.state.injected_failures > 0
    assert payout.app.state.injected_timeouts > 0
    assert [cloud.application(i).status for i in ids] == ["FUNDED"] * len(ids)
    references = [t["reference"] for t in payout.app.state.statement()]
    assert sorted(references) == sorted(cloud.application(i).loan_id for i in ids)
    report = load_and_reconcile(store.table, BankClient(payout.url).statement()).as_dict()
    assert (report["paid"], report["unpaid"], report["duplicated"]) == (len(ids), 0, 0), report
    assert report["clean"], report
