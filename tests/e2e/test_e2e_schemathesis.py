"""Schemathesis against the local cloud's generated OpenAPI: every operation, a bounded run.

Each operation gets a few valid and a few invalid (negative) requests, deterministic (derandomized),
sent with a bearer token (the ops group for the ops routes). Every answer must be: no 5xx, a status
code the document declares, a declared content type, a body matching the declared schema, and
invalid requests refused with a 4xx. The counts go to ``build/security/inputs.json``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from localcloud.cloud import LocalCloud
from tests.support.hostile import Tally, write_summary

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
USER = "schemathesis-user"
OPS_USER = "schemathesis-ops"
TALLY = Tally()


@pytest.fixture(scope="module")
def api_schema(local_cloud: LocalCloud) -> Iterator[schemathesis.BaseSchema]:
    yield schemathesis.openapi.from_url(f"{local_cloud.url}/openapi.json")
    write_summary("schemathesis", TALLY, operations=len(list_operations(local_cloud)))


def list_operations(cloud: LocalCloud) -> list[str]:
    loaded = schemathesis.openapi.from_url(f"{cloud.url}/openapi.json")
    return [op.ok().label for op in loaded.get_all_operations()]


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=6,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_conforms(case: schemathesis.Case, local_cloud: LocalCloud) -> None:
    ops_route = case.operation.path.startswith("/reviews")
    token = local_cloud.token(OPS_USER, ("ops",)) if ops_route else local_cloud.token(USER)
    response = case.call(
        base_url=local_cloud.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    TALLY.record(response, bad=case.meta is not None and case.meta.generation.mode is GenerationMode.NEGATIVE)
    case.validate_response(response, checks=CHECKS)
