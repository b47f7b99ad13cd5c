"""template.yaml: it lints, it validates, it builds, and it says what the design says."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import template

ROOT = Path(__file__).resolve().parents[2]


def sam_cli() -> str:
    sam = os.environ.get("SAM_CLI") or shutil.which("sam") or str(ROOT / ".venv-sam/bin/sam")
    if not Path(sam).exists():
        pytest.fail("aws-sam-cli is not installed: run `make setup` (it creates .venv-sam)")
    return sam


def functions() -> dict[str, dict[str, Any]]:
    return {
        name: r
        for name, r in template()["Resources"].items()
        if r["Type"] == "AWS::Serverless::Function"
    }


def test_cfn_lint_passes() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(ROOT / "template.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_validate_lint_passes() -> None:
    result = subprocess.run(
        [sam_cli(), "validate", "--lint", "--region", "us-east-1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_sam_build_succeeds_offline_without_docker(tmp_path: Path) -> None:
    result = subprocess.run(
        [sam_cli(), "build", "--build-dir", str(tmp_path / "build"), "--region", "us-east-1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    common = tmp_path / "build" / "CommonLayer" / "python"
    assert (common / "loanflow" / "repository.py").exists()
    assert (common / "pydantic_core").exists()
    assert any(common.glob("pydantic_core/_pydantic_core.cpython-313-x86_64-linux-gnu.so"))


def test_globals_pin_the_runtime_tracing_and_powertools() -> None:
    g = template()["Globals"]["Function"]
    assert g["Runtime"] == "python3.13"
    assert g["Tracing"] == "Active"
    assert g["Architectures"] == ["x86_64"]
    assert "POWERTOOLS_SERVICE_NAME" in g["Environment"]["Variables"]


def test_every_function_has_its_code_and_a_timeout() -> None:
    default_timeout = template()["Globals"]["Function"]["Timeout"]
    for name, fn in functions().items():
        props = fn["Properties"]
        handler_module = props.get("Handler", "app.handler").split(".")[0]
        assert (ROOT / props["CodeUri"] / f"{handler_module}.py").exists(), name
        assert 1 <= props.get("Timeout", default_timeout) <= 900, name


def test_the_table_is_on_demand_encrypted_recoverable_and_expiring() -> None:
    for name in ("LoanflowTable", "IdempotencyTable"):
        props = template()["Resources"][name]["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["SSESpecification"]["SSEEnabled"] is True
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert props["TimeToLiveSpecification"]["Enabled"] is True


def test_the_api_requires_a_jwt_except_for_the_docs() -> None:
    api = template()["Resources"]["HttpApi"]["Properties"]
    assert api["Auth"]["DefaultAuthorizer"] == "CognitoJwt"
    open_routes = []
    for fn in functions().values():
        for event in fn["Properties"].get("Events", {}).values():
            if event["Type"] == "HttpApi":
                auth = event["Properties"].get("Auth", {})
                if auth.get("Authorizer") == "NONE":
                    open_routes.append(event["Properties"]["Path"])
    assert sorted(open_routes) == ["/docs", "/openapi.json"]


def test_every_consumed_queue_has_a_dlq_and_every_dlq_an_alarm() -> None:
    resources = template()["Resources"]
    queues = {n for n, r in resources.items() if r["Type"] == "AWS::SQS::Queue"}
    consumed = {
        event["Properties"]["Queue"]["Fn::GetAtt"][0]
        for fn in functions().values()
        for event in fn["Properties"].get("Events", {}).values()
        if event["Type"] == "SQS"
    }
    alarmed = {
        dimension["Value"]["Fn::GetAtt"][0]
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
        for dimension in r["Properties"].get("Dimensions", [])
        if dimension.get("Name") == "QueueName"
    }
    assert consumed, "the intake queues feed the starter function"
    for name in consumed:
        assert "RedrivePolicy" in resources[name]["Properties"], f"{name} has no DLQ"
    for name in queues - consumed:
        assert name in alarmed, f"{name} collects failures but no alarm watches it"


def test_an_ended_execution_reaches_the_function_that_fails_its_application() -> None:
    # given the rule that AWS evaluates on Step Functions' status-change events
    resources = template()["Resources"]
    function = resources["ExecutionEndedFunction"]["Properties"]
    (event,) = function["Events"].values()
    rule = event["Properties"]

    assert event["Type"] == "EventBridgeRule"
    assert rule["Pattern"] == {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {
            "status": ["FAILED", "TIMED_OUT", "ABORTED"],
            "stateMachineArn": [{"Ref": "LoanApplicationStateMachine"}],
        },
    }
    assert function["CodeUri"] == "functions/execution_ended/"
    # what cannot be delivered or handled is kept, and watched
    queue = {"Fn::GetAtt": ["ExecutionEndedDeadLetterQueue", "Arn"]}
    assert rule["DeadLetterConfig"] == {"Arn": queue}
    assert rule["RetryPolicy"]["MaximumEventAgeInSeconds"] == 86400
    assert function["DeadLetterQueue"] == {"Type": "SQS", "TargetArn": queue}
    alarm = resources["ExecutionEndedDeadLetterAlarm"]["Properties"]
    assert alarm["Dimensions"][0]["Value"] == {
        "Fn::GetAtt": ["ExecutionEndedDeadLetterQueue", "QueueName"]
    }
    # only EventBridge, and only this rule, may park events on the queue
    (statement,) = resources["ExecutionEndedDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert (
        rule["RuleName"]["Fn::Sub"]
        in statement["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::Sub"]
    )


def test_the_ended_execution_function_reads_and_writes_only_the_table() -> None:
    policies = template()["Resources"]["ExecutionEndedFunction"]["Properties"]["Policies"]

    assert policies == [
        {"DynamoDBCrudPolicy": {"TableName": {"Ref": "LoanflowTable"}}},
        {"KMSDecryptPolicy": {"KeyId": {"Ref": "PiiKey"}}},
    ]
