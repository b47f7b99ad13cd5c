"""template.yaml, the payout part: a private TLS-only SSE-KMS contracts bucket, a KMS signing key,
the payout functions wired into the state machine, a schedule, a DLQ with an alarm."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import template

ROOT = Path(__file__).resolve().parents[2]


def resource(name: str) -> dict[str, Any]:
    return template()["Resources"][name]


def test_the_contracts_bucket_is_private_encrypted_and_tls_only() -> None:
    bucket = resource("ContractsBucket")["Properties"]
    rule = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    statement = resource("ContractsBucketPolicy")["Properties"]["PolicyDocument"]["Statement"][0]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_signing_key_is_asymmetric_sign_verify() -> None:
    key = resource("ContractSigningKey")["Properties"]
    assert (key["KeySpec"], key["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")


def test_the_payout_schedule_runs_the_batch_function_at_the_configured_interval() -> None:
    schedule = resource("PayoutSchedule")["Properties"]
    assert "PayoutIntervalMinutes" in json.dumps(schedule["ScheduleExpression"])
    assert "BatchPayoutFunction" in json.dumps(schedule["Target"]["Arn"])
    assert resource("BatchPayoutFunction")["Properties"]["ReservedConcurrentExecutions"] == 1


def test_poison_payouts_have_a_queue_and_an_alarm() -> None:
    alarm = resource("PayoutDeadLetterAlarm")["Properties"]
    assert "PayoutDeadLetterQueue" in json.dumps(alarm["Dimensions"])
    for function in ("DisburseFunction", "BatchPayoutFunction"):
        env = resource(function)["Properties"]["Environment"]["Variables"]
        assert "PayoutDeadLetterQueue" in json.dumps(env["PAYOUT_DLQ_URL"])
        assert "BankApiUrl" in json.dumps(env["BANK_API_URL"])


def test_the_state_machine_reaches_every_payout_state() -> None:
    definition = json.loads((ROOT / "infra/statemachine/loan_application.asl.json").read_text())
    states = definition["States"]
    assert states["MakeOffer"]["Next"] == "PrepareContract"
    wait = states["AwaitSignature"]
    assert wait["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert {c["Next"] for c in wait["Catch"]} == {"ExpireOffer", "RecordFailure"}
    assert all("Catch" in states[s] for s in ("PrepareContract", "ExpireOffer", "Disburse"))
    substitutions = resource("LoanApplicationStateMachine")["Properties"]["DefinitionSubstitutions"]
    for name in ("PrepareContract", "AwaitSignature", "ExpireOffer", "Disburse"):
        assert f"{name}FunctionArn" in substitutions


def test_every_payout_function_has_a_sample_event_its_handler_accepts() -> None:
    from loanflow.workflow import WorkflowState

    events = ROOT / "events"
    for name in ("prepare_contract", "expire_offer", "disburse"):
        WorkflowState.model_validate(json.loads((events / f"{name}.json").read_text()))
    waiting = json.loads((events / "await_signature.json").read_text())
    WorkflowState.model_validate(waiting["state"])
    assert waiting["task_token"]
    assert json.loads((events / "batch_payout_schedule.json").read_text()) == {"source": "schedule"}
