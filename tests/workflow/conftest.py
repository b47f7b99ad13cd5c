"""The workflow on moto: template resources, the real ASL executed, every task the real handler,
the credit bureau simulator on a local port, and the HTTP routes of the workflow."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from loanflow_ml.paths import SHIPPED_MODEL_DIR, lightgbm_library
from localcloud.bureau_sim import BureauServer, serve
from tests.conftest import FakeLambdaContext, template
from tests.support.handlers import load_handler_module
from tests.support.loans import drop_tls_only_policy
from tests.support.routes import request, workflow_api
from tests.support.stepfunctions import (
    InProcessLambdas,
    function_dirs,
    install,
    wait_for,
)

OWNER = "user-1"
REVIEWER = "ops-7"


def clear_workflow_caches() -> None:
    """Forget what the workflow modules built for a previous test's account."""
    from aws_lambda_powertools.utilities import parameters

    from loanflow import bureau, contract, scoring, submission
    from loanflow.http import contracts

    bureau.bureau_client.cache_clear()
    bureau.bureau_settings.cache_clear()
    submission.intake_settings.cache_clear()
    submission.starter_settings.cache_clear()
    scoring.get_scorer.cache_clear()
    parameters.clear_caches()
    contract.contract_settings.cache_clear()
    contracts.payout_store.cache_clear()


@pytest.fixture(autouse=True)
def _execute_state_machines(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto interprets the ASL (DESIGN.md §3) instead of only recording executions."""
    from moto.core.config import default_user_config

    monkeypatch.setitem(default_user_config["stepfunctions"], "execute_state_machine", True)


@pytest.fixture(scope="session")
def bureau_server() -> Iterator[BureauServer]:
    with serve() as server:
        yield server


@dataclass
class Cloud:
    """Everything a workflow test touches, with the story's verbs."""

    resources: Any
    lambdas: InProcessLambdas
    bureau: BureauServer
    api: Any
    starter: Any
    executions: list[str] = field(default_factory=list)

    @property
    def sfn(self) -> Any:
        return boto3.client("stepfunctions", region_name="us-east-1")

    def call(self, method: str, path: str, *, body: Any = None, user: str = OWNER, groups=()):
        return request(self.api, method, path, body=body, user=user, groups=groups)

    def create(self, body: dict[str, Any], owner: str = OWNER) -> str:
        from loanflow.models import ApplicationRequest
        from loanflow.repository import application_repository

        request = ApplicationRequest.model_validate(body)
        return application_repository().create(owner, request, actor=f"user:{owner}").id

    def submit(self, application_id: str, owner: str = OWNER) -> tuple[int, Any]:
        return self.call("POST", f"/applications/{application_id}/submit", user=owner)

    def drain_intake(self) -> int:
        """Deliver what the intake queues hold to the StarterFunction, fast lane first."""
        sqs = boto3.client("sqs", region_name="us-east-1")
        delivered = 0
        for queue in ("FastIntakeQueue", "IntakeQueue"):
            url = self.resources.queue_urls[queue]
            arn = self.resources.arns[queue]
            while True:
                messages = sqs.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]
                ).get("Messages", [])
                if not messages:
                    break
                event = {"Records": [sqs_record(m, arn) for m in messages]}
                answer = self.starter.handler(event, FakeLambdaContext("loanflow-StarterFunction"))
                failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
                for m in messages:
                    if m["MessageId"] not in failed:
                        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                delivered += len(messages)
        return delivered

    def execution_arn(self, application_id: str) -> str:
        machine = self.resources.arns["LoanApplicationStateMachine"]
        return machine.replace(":stateMachine:", ":execution:") + f":{application_id}"

    def run(self, body: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """Create, submit and start one application, until its execution ends or hands over
        to the applicant's signature (the contract engineer's part): (application, execution)."""
        application_id = self.create(body)
        status, _ = self.submit(application_id)
        assert status == 202
        self.drain_intake()
        execution = self.wait_for_signature(application_id)
        return self.application(application_id), execution

    def wait_for_signature(self, application_id: str) -> dict[str, Any]:
        """Until the execution ends, or waits for the applicant's signature (offer made)."""
        return wait_for(
            self.execution_arn(application_id),
            until=lambda _: self.lambdas.has_run("await_signature", application_id),
        )

    def wait_for_task(self, application_id: str, function_dir: str) -> dict[str, Any]:
        return wait_for(
            self.execution_arn(application_id),
            until=lambda _: self.lambdas.has_run(function_dir, application_id),
        )

    def application(self, application_id: str) -> Any:
        from loanflow.repository import application_repository

        return application_repository().get(application_id)

    def set_policy(self, **changes: Any) -> None:
        """Change the credit policy parameter, as risk would in the console (no deploy)."""
        from aws_lambda_powertools.utilities import parameters

        from loanflow.policy import DEFAULT_POLICY, PolicyConfig

        config = PolicyConfig.model_validate({**DEFAULT_POLICY.model_dump(), **changes})
        boto3.client("ssm", region_name="us-east-1").put_parameter(
            Name=self.resources.names["CreditPolicyParameter"],
            Value=config.model_dump_json(),
            Type="String",
            Overwrite=True,
        )
        parameters.clear_caches()


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message["Attributes"],
        "messageAttributes": {},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": "us-east-1",
    }


@pytest.fixture
def cloud(
    resources: Any, bureau_server: BureauServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Cloud]:
    monkeypatch.setenv("MODEL_DIR", str(SHIPPED_MODEL_DIR))
    monkeypatch.setenv("LIGHTGBM_LIBRARY", str(lightgbm_library()))
    monkeypatch.setenv("BUREAU_API_URL", bureau_server.url)
    monkeypatch.setenv("BUREAU_BACKOFF_BASE_S", "0.01")
    monkeypatch.setenv("POLICY_CACHE_SECONDS", "0")
    bureau_server.app.failure_rate = 0.0
    # The bureau accepts the key the template's secret holds, as the partner would.
    secret = boto3.client("secretsmanager", region_name="us-east-1").get_secret_value(
        SecretId=resources.arns["BureauApiKeySecret"]
    )
    bureau_server.app.api_key = secret["SecretString"]
    drop_tls_only_policy(resources)
    clear_workflow_caches()
    lambdas = InProcessLambdas(function_dirs(template(), resources.names))
    install(monkeypatch, lambdas)
    yield Cloud(
        resources=resources,
        lambdas=lambdas,
        bureau=bureau_server,
        api=workflow_api(),
        starter=load_handler_module("starter"),
    )
    bureau_server.app.failure_rate = 0.0
    clear_workflow_caches()
