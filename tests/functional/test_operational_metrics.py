"""The custom metrics behind the DecisionLatency and TimeToFunds alarms and the dashboard are really
emitted, in the namespace and with the one dimension the template's alarms name."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from loanflow.models import ApplicationRequest
from loanflow.models import ApplicationStatus as S
from loanflow.repository import application_repository
from localcloud import bank_sim
from tests.conftest import FakeLambdaContext, template
from tests.support.apigw import load_event
from tests.support.handlers import load_handler_module
from tests.support.identities import application_body
from tests.support.loans import payout_cloud_fixture, signed_application  # noqa: F401


def emitted(output: str, name: str) -> list[dict[str, Any]]:
    """The EMF documents in ``output`` that carry metric ``name``."""
    documents = []
    for line in output.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            if any(metric["Name"] == name for metric in directive["Metrics"]):
                documents.append(document | {"_directive": directive})
    return documents


@pytest.fixture
def decide(resources: Any) -> Any:
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
    return load_handler_module("decide")


def in_progress(**changes: Any) -> str:
    repo = application_repository()
    request = ApplicationRequest.model_validate(application_body(**changes))
    app = repo.create("user-1", request, actor="user:user-1")
    repo.transition(app.id, S.SUBMITTED, actor="user:user-1")
    return repo.transition(app.id, S.IN_PROGRESS, actor="workflow").id


def alarm_dimensions(metric: str) -> list[list[str]]:
    alarms = [
        alarm["Properties"]
        for alarm in template()["Resources"].values()
        if alarm["Type"] == "AWS::CloudWatch::Alarm"
        and alarm["Properties"].get("MetricName") == metric
    ]
    assert alarms, f"no alarm on {metric}"
    return [[dimension["Name"] for dimension in alarm["Dimensions"]] for alarm in alarms]


def test_an_automatic_decision_emits_its_latency(
    decide: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    event = {**load_event("decide.json"), "application_id": in_progress(monthly_income="12000.00")}

    answer = decide.handler(event, FakeLambdaContext("loanflow-DecideFunction"))

    assert answer["outcome"] == "approved"
    (document,) = emitted(capsys.readouterr().out, "DecisionLatency")
    assert document["_directive"]["Namespace"] == "Loanflow"
    assert (
        document["_directive"]["Dimensions"] == [["service"]] == alarm_dimensions("DecisionLatency")
    )
    assert document["service"] == "loanflow"
    assert 0 <= document["DecisionLatency"][0] < 60


def test_a_decision_sent_to_review_is_not_yet_a_decision(
    decide: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    event = load_event("decide.json")
    event.update(
        application_id=in_progress(),
        bureau={"available": False, "has_file": False, "reason": "HTTP 503"},
        score={},
    )

    answer = decide.handler(event, FakeLambdaContext("loanflow-DecideFunction"))

    assert answer["outcome"] == "review"
    assert emitted(capsys.readouterr().out, "DecisionLatency") == []


@pytest.fixture
def disburse(payout_cloud: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with bank_sim.serve(seed=5) as server:
        monkeypatch.setenv("BANK_API_URL", server.url)
        monkeypatch.setenv("BANK_BACKOFF_S", "0")
        yield load_handler_module("disburse")


def test_an_instant_payout_emits_the_time_to_funds(
    disburse: Any, lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = application_repository()
    app = signed_application(repo, tier="A", seed=211)

    disburse.handler({"application_id": app.id}, lambda_context)

    assert repo.get(app.id).status == S.FUNDED
    (document,) = emitted(capsys.readouterr().out, "TimeToFunds")
    assert document["_directive"]["Namespace"] == "Loanflow"
    assert document["_directive"]["Dimensions"] == [["service"]] == alarm_dimensions("TimeToFunds")
    assert document["TimeToFunds"][0] >= 0
