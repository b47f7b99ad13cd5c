"""The infrastructure scan: checkov finds nothing in template.yaml beyond the skips in .checkov.yaml,
every skip says why, and what each broad skip would hide is asserted here instead.

checkov lives in its own venv (its pins conflict with the project's): ``$CHECKOV_CLI``, else
``.venv-checkov/bin/checkov`` (``make setup`` creates it from requirements-checkov.lock).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import template

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ".checkov.yaml"
PARTNER_CALLERS = ("CreditBureauFunction", "DisburseFunction", "BatchPayoutFunction")


def checkov_cli() -> str:
    checkov = os.environ.get("CHECKOV_CLI") or str(ROOT / ".venv-checkov/bin/checkov")
    if not Path(checkov).exists():
        pytest.fail("checkov is not installed: run `make setup` (it creates .venv-checkov)")
    return checkov


def resources_of(*types: str) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in template()["Resources"].items()
        if resource["Type"] in types
    }


def functions() -> dict[str, dict[str, Any]]:
    return resources_of("AWS::Serverless::Function")


# -- the scan ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_checkov_finds_no_failed_check() -> None:
    environment = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CKV_NO_VERSION_CHECK": "1"}
    run = subprocess.run(
        [checkov_cli(), "-f", "template.yaml", "--config-file", str(CONFIG), "-o", "json"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(run.stdout)
    summary = report["summary"]
    failed = [
        f"{check['check_id']} {check['resource']}: {check['check_name']}"
        for check in report["results"]["failed_checks"]
    ]

    assert summary["parsing_errors"] == 0, run.stderr
    assert summary["resource_count"] >= len(template()["Resources"]) // 2
    assert summary["passed"] > 0
    assert not failed, "\n".join(failed)
    assert run.returncode == 0, run.stderr


def test_every_skip_has_a_written_reason() -> None:
    lines = CONFIG.read_text().splitlines()
    skipped = yaml.safe_load(CONFIG.read_text())["skip-check"]
    for check_id in skipped:
        index = next(i for i, line in enumerate(lines) if line.strip() == f"- {check_id}")
        reason: list[str] = []
        for line in reversed(lines[:index]):
            if not line.strip().startswith("#"):
                break
            reason.insert(0, line.strip().lstrip("#").strip())
        text = " ".join(reason)
        assert text.startswith(f"{check_id} ("), f"{check_id}: the comment must name the check"
        assert len(text.split()) >= 15, f"{check_id}: the reason is too short to be a reason"


def test_no_skip_by_comment_in_the_template() -> None:
    # Suppressions live in .checkov.yaml only, where the test above reads their reasons.
    assert "checkov:skip" not in (ROOT / "template.yaml").read_text()


# -- what the broad skips would otherwise hide ----------------------------------------------------


def test_functions_that_call_a_partner_have_bounded_concurrency() -> None:  # CKV_AWS_115
    for name in PARTNER_CALLERS:
        reserved = functions()[name]["Properties"].get("ReservedConcurrentExecutions")
        assert isinstance(reserved, int), f"{name} has no reserved concurrency"
        assert 1 <= reserved <= 50, name


def test_functions_invoked_asynchronously_have_a_dlq_and_the_rest_are_not() -> None:  # CKV_AWS_116
    for name, function in functions().items():
        properties = function["Properties"]
        sources = {event["Type"] for event in (properties.get("Events") or {}).values()}
        if sources - {"HttpApi", "SQS"}:
            assert sources <= {"EventBridgeRule"}, name
            assert properties["DeadLetterQueue"]["Type"] == "SQS", name
            assert properties["EventInvokeConfig"]["MaximumRetryAttempts"] >= 1, name
            for event in properties["Events"].values():
                assert "Arn" in event["Properties"]["DeadLetterConfig"], name
                assert event["Properties"]["RetryPolicy"]["MaximumRetryAttempts"] > 0, name


def test_every_queue_is_encrypted_and_every_source_queue_has_a_dlq() -> None:  # CKV_AWS_27
    queues = resources_of("AWS::SQS::Queue")
    dead_letter_targets = set()
    for name, queue in queues.items():
        properties = queue["Properties"]
        encrypted = properties.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in properties
        assert encrypted, f"{name} is not encrypted"
        if "RedrivePolicy" in properties:
            dead_letter_targets.add(
                properties["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
            )
    for function in functions().values():
        for event in (function["Properties"].get("Events") or {}).values():
            if event["Type"] == "SQS":
                queue = event["Properties"]["Queue"]["Fn::GetAtt"][0]
                assert "RedrivePolicy" in queues[queue]["Properties"], f"{queue} has no DLQ"
    assert dead_letter_targets


def test_every_dead_letter_queue_has_an_alarm_that_notifies() -> None:
    alarms = resources_of("AWS::CloudWatch::Alarm").values()
    watched = {
        dimension["Value"]["Fn::GetAtt"][0]
        for alarm in alarms
        if alarm["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and alarm["Properties"].get("AlarmActions")
        for dimension in alarm["Properties"]["Dimensions"]
    }
    dead_letter_queues = {
        queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for queue in resources_of("AWS::SQS::Queue").values()
        if "RedrivePolicy" in queue["Properties"]
    } | {name for name in resources_of("AWS::SQS::Queue") if "DeadLetter" in name}
    assert dead_letter_queues <= watched


def test_every_alarm_notifies_the_alarm_topic() -> None:
    for name, alarm in resources_of("AWS::CloudWatch::Alarm").items():
        assert alarm["Properties"].get("AlarmActions") == [{"Ref": "AlarmTopic"}], name


def test_no_environment_variable_holds_a_credential() -> None:  # CKV_AWS_173
    suspicious = re.compile(r"(?i)(password|secret|token|api_?key|private)")
    globals_env = template()["Globals"]["Function"]["Environment"]["Variables"]
    for name, function in {
        "Globals": {"Properties": {"Environment": {"Variables": globals_env}}},
        **functions(),
    }.items():
        variables = ((function["Properties"].get("Environment") or {}).get("Variables")) or {}
        for variable, value in variables.items():
            if suspicious.search(variable):
                assert isinstance(value, dict), f"{name}.{variable} is a literal: {value!r}"


def test_symmetric_keys_rotate_and_hmac_keys_are_the_only_exception() -> None:  # CKV_AWS_7
    for name, key in resources_of("AWS::KMS::Key").items():
        properties = key["Properties"]
        spec = properties.get("KeySpec", "SYMMETRIC_DEFAULT")
        if spec == "SYMMETRIC_DEFAULT":
            assert properties.get("EnableKeyRotation") is True, f"{name} does not rotate"
        else:
            assert spec.startswith(("HMAC_", "RSA_", "ECC_")), name


def test_wildcard_key_principals_are_limited_to_this_account_and_a_service() -> None:  # CKV_AWS_33
    for name, key in resources_of("AWS::KMS::Key").items():
        for statement in key["Properties"]["KeyPolicy"]["Statement"]:
            principal = statement.get("Principal")
            if principal not in ("*", {"AWS": "*"}):
                continue
            conditions = statement.get("Condition", {}).get("StringEquals", {})
            assert conditions.get("kms:CallerAccount") == {"Ref": "AWS::AccountId"}, name
            assert conditions.get("kms:ViaService"), name


def test_only_the_documents_bucket_is_unversioned() -> None:  # CKV_AWS_21
    unversioned = {
        name
        for name, bucket in resources_of("AWS::S3::Bucket").items()
        if bucket["Properties"].get("VersioningConfiguration", {}).get("Status") != "Enabled"
    }
    assert unversioned <= {"DocumentsBucket"}


# -- encryption and logging that are not skipped, asserted by name --------------------------------


def test_tables_and_the_secret_use_the_customer_managed_key() -> None:
    for name, table in resources_of("AWS::DynamoDB::Table").items():
        sse = table["Properties"]["SSESpecification"]
        assert sse["SSEType"] == "KMS", name
        assert sse["KMSMasterKeyId"] == {"Ref": "DataKey"}, name
    for name, secret in resources_of("AWS::SecretsManager::Secret").items():
        assert secret["Properties"]["KmsKeyId"] == {"Ref": "DataKey"}, name


def test_the_http_api_writes_access_logs_with_retention_and_no_bodies() -> None:
    api = template()["Resources"]["HttpApi"]["Properties"]
    settings = api["AccessLogSettings"]
    group = template()["Resources"][settings["DestinationArn"]["Fn::GetAtt"][0]]

    assert group["Properties"]["RetentionInDays"] >= 365
    assert "$context.requestId" in settings["Format"]
    assert not re.search(r"\$(input|request)\.", settings["Format"])  # no bodies, no headers


def test_the_dashboard_shows_decisions_funds_errors_and_dlq_depth() -> None:
    (dashboard,) = resources_of("AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    for shown in ("DecisionLatency", "TimeToFunds", '"5xx"', "Errors", "DeadLetterQueue"):
        assert shown in body, shown
