"""Schemathesis against the local cloud's generated OpenAPI: every operation, a bounded run.

Each operation gets a few valid (positive) and a few invalid (negative) requests, deterministic
(derandomized), sent with a bearer token (the ops group for the ops routes). Every answer must be: no
5xx, a status code the document declares, a declared content type, a body matching the declared
schema, and invalid requests refused with a 4xx. The counts go to ``build/security/inputs.json``.

Schemathesis's own pytest integration (``schemathesis.pytest.from_fixture``) does not run under
pytest 9, so each operation's strategy is driven by hypothesis here, with schemathesis's checks.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
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
EXAMPLES_PER_MODE = 15
USER = "schemathesis-user"
OPS_USER = "schemathesis-ops"
BOUNDED = settings(
    max_examples=EXAMPLES_PER_MODE,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    report_multiple_bugs=False,
)


def _exercise(operation: Any, mode: GenerationMode, cloud: LocalCloud, tally: Tally) -> None:
    ops_route = operation.path.startswith("/reviews")
    token = cloud.token(OPS_USER, ("ops",)) if ops_route else cloud.token(USER)

    @BOUNDED
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: schemathesis.Case) -> None:
        response = case.call(
            base_url=cloud.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        tally.record(response.status_code, bad=mode is GenerationMode.NEGATIVE)
        case.validate_response(response, checks=CHECKS)

    try:
        check()
    except Unsatisfiable:
        # nothing to vary in this mode (e.g. no invalid form of a parameterless DELETE /me)
        return


def test_every_operation_conforms_to_the_openapi(local_cloud: LocalCloud) -> None:
    schema = schemathesis.openapi.from_url(f"{local_cloud.url}/openapi.json")
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        operations.append(result.ok())
    assert len(operations) >= 13, [op.label for op in operations]
    tally = Tally()
    failures: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _exercise(operation, mode, local_cloud, tally)
            except (AssertionError, FailureGroup) as failure:
                failures.append(f"{operation.label} [{mode.value}]: {failure}")
    write_summary(
        "schemathesis",
        tally,
        operations=len(operations),
        examples_per_mode=EXAMPLES_PER_MODE,
        failures=len(failures),
    )
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)
    assert tally.server_errors == 0
