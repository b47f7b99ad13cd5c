"""Inside the local cloud: the Lambda Invoke API and Step Functions reach the real handlers."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from botocore.config import Config

from localcloud.cloud import LocalCloud

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def http_event(path: str) -> dict[str, object]:
    return {
        "version": "2.0",
        "routeKey": f"GET {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"accept": "application/json"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "http": {
                "method": "GET",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": f"GET {path}",
            "stage": "$default",
            "time": "03/Dec/2026:12:00:00 +0000",
            "timeEpoch": 0,
        },
        "isBase64Encoded": False,
    }


def lambda_client(cloud: LocalCloud):
    return cloud.session().client(
        "lambda", endpoint_url=cloud.moto_url, config=Config(retries={"max_attempts": 0})
    )


def test_invoke_api_on_the_moto_endpoint_runs_the_real_handler(local_cloud: LocalCloud) -> None:
    answer = lambda_client(local_cloud).invoke(
        FunctionName="loanflow-ApiFunction", Payload=json.dumps(http_event("/openapi.json"))
    )

    result = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer
    assert result["statusCode"] == 200
    assert json.loads(result["body"])["openapi"].startswith("3.")


def test_a_handler_error_comes_back_with_its_error_type(local_cloud: LocalCloud) -> None:
    answer = lambda_client(local_cloud).invoke(
        FunctionName="loanflow-ApiFunction", Payload=b'{"not": "an api event"}'
    )

    error = json.loads(answer["Payload"].read())
    assert answer["FunctionError"] == "Unhandled"
    assert error["errorType"]
    assert "errorMessage" in error


def test_step_functions_tasks_call_the_real_functions(local_cloud: LocalCloud) -> None:
    # given a one-task state machine on the local cloud that calls the API function
    assert local_cloud.resources is not None
    sfn = local_cloud.client("stepfunctions")
    definition = {
        "StartAt": "CallApi",
        "States": {
            "CallApi": {
                "Type": "Task",
                "Resource": local_cloud.resources.arns["ApiFunction"],
                "ResultSelector": {"status.$": "$.statusCode"},
                "End": True,
            }
        },
    }
    machine = sfn.create_state_machine(
        name=f"e2e-{uuid.uuid4().hex[:8]}",
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/e2e",
    )["stateMachineArn"]

    # when it runs with an HTTP event as its input
    execution = sfn.start_execution(
        stateMachineArn=machine, input=json.dumps(http_event("/openapi.json"))
    )["executionArn"]
    deadline = time.monotonic() + 30
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "execution still RUNNING after 30 s"
        time.sleep(0.05)

    # then the real handler answered the task
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"status": 200}


def test_every_template_resource_moto_hosts_exists(local_cloud: LocalCloud) -> None:
    assert local_cloud.resources is not None
    tables = local_cloud.client("dynamodb").list_tables()["TableNames"]
    queues = local_cloud.client("sqs").list_queues().get("QueueUrls", [])
    machines = local_cloud.client("stepfunctions").list_state_machines()["stateMachines"]

    assert "loanflow-LoanflowTable" in tables
    assert any(url.endswith("/loanflow-IntakeQueue") for url in queues)
    assert "loanflow-LoanApplicationStateMachine" in {machine["name"] for machine in machines}
    assert local_cloud.resources.failures == {}


def test_buckets_with_a_tls_only_policy_take_writes_over_the_local_http(
    local_cloud: LocalCloud,
) -> None:
    assert local_cloud.resources is not None
    bucket = local_cloud.resources.names["ContractsBucket"]
    s3 = local_cloud.client("s3")

    s3.put_object(Bucket=bucket, Key="e2e/probe.txt", Body=b"hello")

    assert s3.get_object(Bucket=bucket, Key="e2e/probe.txt")["Body"].read() == b"hello"
