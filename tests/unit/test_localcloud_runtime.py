"""The local Lambda runtime: warm isolated workers, a real context, Lambda's error shapes, timeouts."""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from localcloud.runtime import InvokeServer, Runtime, function_name_of, local_opt
from localcloud.worker import FunctionSpec

pytestmark = pytest.mark.slow

PROBE = """
import os, sys, time
import helper  # from the layer

STARTED = time.time()


def handler(event, context):
    if event.get("raise"):
        raise ValueError(event["raise"])
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("unserialisable"):
        return {"value": object()}
    return {
        "pid": os.getpid(),
        "started": STARTED,
        "cwd": os.getcwd(),
        "env": {k: os.environ.get(k) for k in ("GREETING", "SECRET_OF_PARENT", "AWS_LAMBDA_FUNCTION_NAME")},
        "layer": helper.NAME,
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "arn": context.invoked_function_arn,
        "memory": context.memory_limit_in_mb,
        "remaining": context.get_remaining_time_in_millis(),
        "event": event,
    }
"""


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    root = tmp_path_factory.mktemp("fn")
    (root / "probe").mkdir()
    (root / "probe" / "app.py").write_text(textwrap.dedent(PROBE))
    (root / "layer" / "python").mkdir(parents=True)
    (root / "layer" / "python" / "helper.py").write_text("NAME = 'layer helper'\n")
    os.environ["SECRET_OF_PARENT"] = "must not leak"
    spec = FunctionSpec(
        logical_id="Probe",
        name="loanflow-Probe",
        arn="arn:aws:lambda:us-east-1:123456789012:function:loanflow-Probe",
        handler="app.handler",
        code_dir=str(root / "probe"),
        layer_dirs=(str(root / "layer" / "python"),),
        environment={"GREETING": "hello"},
        timeout_s=1.5,
        memory_mb=256,
        repository_root=str(root),
    )
    runtime = Runtime({spec.name: spec}, max_concurrency=2, log_dir=root / "logs")
    yield runtime
    runtime.close()
    os.environ.pop("SECRET_OF_PARENT", None)


def test_a_function_runs_with_its_environment_code_and_layers(runtime: Runtime) -> None:
    result = runtime.invoke("loanflow-Probe", {"hello": "world"})

    body = result.json()
    assert result.succeeded
    assert body["event"] == {"hello": "world"}
    assert body["layer"] == "layer helper"
    assert body["env"] == {
        "GREETING": "hello",
        "SECRET_OF_PARENT": None,
        "AWS_LAMBDA_FUNCTION_NAME": "loanflow-Probe",
    }
    assert body["cwd"].endswith("probe")


def test_the_context_is_lambdas(runtime: Runtime) -> None:
    result = runtime.invoke("loanflow-Probe", {}, request_id="req-1")

    body = result.json()
    assert body["request_id"] == "req-1"
    assert body["function_name"] == "loanflow-Probe"
    assert body["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:loanflow-Probe"
    assert body["memory"] == 256
    assert 0 < body["remaining"] <= 1500


def test_the_environment_stays_warm(runtime: Runtime) -> None:
    first = runtime.invoke("loanflow-Probe", {}).json()
    second = runtime.invoke("loanflow-Probe", {}).json()

    assert (first["pid"], first["started"]) == (second["pid"], second["started"])
    assert runtime.pools["loanflow-Probe"].cold_starts


def test_an_exception_comes_back_as_lambda_reports_it(runtime: Runtime) -> None:
    result = runtime.invoke("loanflow-Probe", {"raise": "bad input"})

    assert result.function_error == "Unhandled"
    assert result.json()["errorType"] == "ValueError"
    assert result.json()["errorMessage"] == "bad input"


def test_an_unserialisable_result_is_a_marshal_error(runtime: Runtime) -> None:
    result = runtime.invoke("loanflow-Probe", {"unserialisable": True})

    assert result.function_error == "Unhandled"
    assert result.json()["errorType"] == "Runtime.MarshalError"


def test_the_timeout_ends_the_environment_and_the_next_call_starts_fresh(
    runtime: Runtime,
) -> None:
    before = runtime.invoke("loanflow-Probe", {}).json()["pid"]

    timed_out = runtime.invoke("loanflow-Probe", {"sleep": 5})
    after = runtime.invoke("loanflow-Probe", {}).json()["pid"]

    assert timed_out.function_error == "Unhandled"
    assert timed_out.json()["errorType"] == "Sandbox.Timedout"
    assert "timed out after 1.50 seconds" in timed_out.json()["errorMessage"]
    assert after != before


def test_concurrent_invocations_get_their_own_environments(runtime: Runtime) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: runtime.invoke("loanflow-Probe", {"sleep": 0.4}), [1, 2]))

    assert len({result.json()["pid"] for result in results}) == 2


def test_the_invoke_api_answers_over_http(runtime: Runtime) -> None:
    server = InvokeServer(runtime)
    try:
        client = boto3.client(
            "lambda",
            region_name="us-east-1",
            endpoint_url=server.url,
            aws_access_key_id="local",
            aws_secret_access_key="local",
            config=Config(retries={"max_attempts": 0}),
        )
        ok = client.invoke(FunctionName="loanflow-Probe", Payload=json.dumps({"a": 1}))
        failed = client.invoke(
            FunctionName="arn:aws:lambda:us-east-1:123456789012:function:loanflow-Probe",
            Payload=json.dumps({"raise": "nope"}),
        )
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.invoke(FunctionName="loanflow-Missing", Payload=b"{}")
    finally:
        server.stop()

    assert json.loads(ok["Payload"].read())["event"] == {"a": 1}
    assert "FunctionError" not in ok
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorType"] == "ValueError"


@pytest.mark.parametrize(
    ("identifier", "name"),
    [
        ("loanflow-Probe", "loanflow-Probe"),
        ("loanflow-Probe:$LATEST", "loanflow-Probe"),
        ("123456789012:function:loanflow-Probe", "loanflow-Probe"),
        ("arn:aws:lambda:us-east-1:123456789012:function:loanflow-Probe:live", "loanflow-Probe"),
        (
            "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Aloanflow-Probe",
            "loanflow-Probe",
        ),
    ],
)
def test_function_names_arns_and_qualifiers(identifier: str, name: str) -> None:
    assert function_name_of(identifier) == name


def test_local_opt_stands_in_for_the_layers_mount(tmp_path: Path) -> None:
    layer = tmp_path / "layers" / "scoring"
    (layer / "model").mkdir(parents=True)
    (layer / "model" / "model.txt").write_text("tree")

    environment = local_opt(
        tmp_path / "opt",
        [layer],
        {"MODEL_DIR": "/opt/model", "LIB": "/opt/lib/lib_lightgbm.so", "OTHER": "x"},
    )

    # the layer's own files are there; a library its Makefile takes from a wheel comes from the
    # installed package; other variables are left alone
    assert Path(environment["MODEL_DIR"], "model.txt").read_text() == "tree"
    assert environment["LIB"] == str(tmp_path / "opt" / "lib" / "lib_lightgbm.so")
    assert Path(environment["LIB"]).resolve().parent.parent.name == "lightgbm"
    assert environment["OTHER"] == "x"
