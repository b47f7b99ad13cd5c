"""The API handler on moto: creating, listing and reading applications."""

from __future__ import annotations

import random
from typing import Any

import pytest

from tests.support.apigw import call, http_event, load_event
from tests.support.handlers import load_handler_module
from tests.support.identities import application_body


@pytest.fixture
def api(resources: Any) -> Any:
    return load_handler_module("api")


def create(api: Any, ctx: Any, body: dict, *, key: str = "key-00000001", user: str = "user-1"):
    event = http_event(
        "POST", "/applications", body=body, user=user, headers={"idempotency-key": key}
    )
    return call(api, event, ctx)


def test_the_sample_event_creates_a_draft(api: Any, lambda_context: Any) -> None:
    status, body = call(api, load_event("api_create_application.json"), lambda_context)
    assert status == 201, body
    assert body["status"] == "DRAFT"
    assert body["id"].startswith("app_")


def test_owner_reads_the_application_with_pii_masked(api: Any, lambda_context: Any) -> None:
    # given
    request = application_body()
    _, created = create(api, lambda_context, request)
    # when
    status, body = call(api, http_event("GET", f"/applications/{created['id']}"), lambda_context)
    # then
    assert status == 200, body
    assert body["status"] == "DRAFT"
    assert body["applicant"]["id_number"] != request["id_number"]
    assert body["applicant"]["id_number"].endswith(str(request["id_number"])[-4:])
    assert body["applicant"]["amount"] == "5000.00"
    assert [e["action"] for e in body["timeline"]] == ["created"]
    assert body["timeline"][0]["actor"] == "user:user-1"


def test_pii_is_encrypted_at_rest(api: Any, lambda_context: Any, resources: Any) -> None:
    import boto3

    request = application_body()
    create(api, lambda_context, request)
    table = boto3.resource("dynamodb").Table(resources.names["LoanflowTable"])
    raw = str(table.scan()["Items"])
    for field in ("id_number", "phone", "bank_card"):
        assert str(request[field]) not in raw


def test_same_key_same_body_gives_the_same_answer(api: Any, lambda_context: Any) -> None:
    request = application_body()
    first = create(api, lambda_context, request, key="retry-key-1")
    second = create(api, lambda_context, request, key="retry-key-1")
    assert first == second
    assert first[0] == 201
    _, listing = call(api, http_event("GET", "/applications"), lambda_context)
    assert len(listing["items"]) == 1


def test_same_key_other_body_is_a_conflict(api: Any, lambda_context: Any) -> None:
    create(api, lambda_context, application_body(), key="retry-key-2")
    status, body = create(
        api, lambda_context, application_body(amount="6000.00"), key="retry-key-2"
    )
    assert status == 409
    assert body["error"]["code"] == "idempotency_key_reused"


def test_the_same_key_from_two_users_makes_two_applications(api: Any, lambda_context: Any) -> None:
    a = create(api, lambda_context, application_body(), key="shared-key-1", user="user-a")
    b = create(api, lambda_context, application_body(), key="shared-key-1", user="user-b")
    assert a[0] == b[0] == 201
    assert a[1]["id"] != b[1]["id"]


def test_missing_idempotency_key_is_refused(api: Any, lambda_context: Any) -> None:
    event = http_event("POST", "/applications", body=application_body())
    status, body = call(api, event, lambda_context)
    assert status == 400
    assert body["error"]["field"] == "idempotency-key"


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"id_number": "11010519491231002Y"}, "id_number"),
        ({"id_number": "110105194912310021"}, "id_number"),
        ({"phone": "12345"}, "phone"),
        ({"bank_card": "6222021234567895"}, "bank_card"),
        ({"amount": "12.345"}, "amount"),
        ({"amount": "100.00"}, "amount"),
        ({"amount": 5000.5}, "amount"),
        ({"term_months": 100}, "term_months"),
        ({"employment": "astronaut"}, "employment"),
        ({"unexpected": "x"}, "unexpected"),
    ],
)
def test_bad_fields_get_422_naming_the_field(
    api: Any, lambda_context: Any, override: dict, field: str
) -> None:
    status, body = create(api, lambda_context, application_body(**override))
    assert status == 422, body
    assert body["error"]["code"] == "validation_failed"
    assert body["error"]["field"] == field
    _, listing = call(api, http_event("GET", "/applications"), lambda_context)
    assert listing["items"] == []  # nothing was written


def test_invalid_json_is_a_400(api: Any, lambda_context: Any) -> None:
    event = http_event(
        "POST", "/applications", raw_body="{not json", headers={"idempotency-key": "key-bad-json"}
    )
    status, body = call(api, event, lambda_context)
    assert status == 400
    assert body["error"]["code"] == "invalid_json"


def test_another_users_application_is_not_found(api: Any, lambda_context: Any) -> None:
    _, created = create(api, lambda_context, application_body(), user="owner")
    status, body = call(
        api, http_event("GET", f"/applications/{created['id']}", user="intruder"), lambda_context
    )
    assert status == 404
    assert body["error"]["code"] == "application_not_found"


def test_unknown_application_is_not_found(api: Any, lambda_context: Any) -> None:
    status, _ = call(
        api, http_event("GET", "/applications/app_01JDZ8Q6X0000000000000000A"), lambda_context
    )
    assert status == 404


def test_without_claims_the_caller_is_unauthorized(api: Any, lambda_context: Any) -> None:
    status, body = call(api, http_event("GET", "/applications", user=None), lambda_context)
    assert status == 401
    assert body["error"]["code"] == "unauthorized"


def test_listing_pages_newest_first_and_only_mine(api: Any, lambda_context: Any) -> None:
    rng = random.Random(3)
    ids = [
        create(api, lambda_context, application_body(rng), key=f"page-key-{i:04d}")[1]["id"]
        for i in range(3)
    ]
    create(api, lambda_context, application_body(rng), key="other-user-key", user="someone-else")
    status, page1 = call(
        api, http_event("GET", "/applications", query={"limit": "2"}), lambda_context
    )
    assert status == 200
    assert [i["id"] for i in page1["items"]] == ids[::-1][:2]
    _, page2 = call(
        api,
        http_event("GET", "/applications", query={"limit": "2", "cursor": page1["next_cursor"]}),
        lambda_context,
    )
    assert [i["id"] for i in page2["items"]] == ids[:1]


def test_a_forged_cursor_is_refused(api: Any, lambda_context: Any) -> None:
    status, body = call(
        api,
        http_event("GET", "/applications", query={"cursor": "bm90LWEtY3Vyc29y"}),
        lambda_context,
    )
    assert status == 400
    assert body["error"]["field"] == "cursor"


def test_openapi_and_docs_are_served(api: Any, lambda_context: Any) -> None:
    status, spec = call(api, http_event("GET", "/openapi.json", user=None), lambda_context)
    assert status == 200
    assert "/applications" in spec["paths"]
    assert "ApplicationRequest" in spec["components"]["schemas"]
    status, html = call(api, http_event("GET", "/docs", user=None), lambda_context)
    assert status == 200
    assert "swagger" in html.lower()


def test_creation_is_rate_limited_per_user(
    api: Any, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loanflow.intake import creation_limiter
    from loanflow.settings import get_settings

    monkeypatch.setenv("CREATE_LIMIT_PER_HOUR", "2")
    get_settings.cache_clear()
    creation_limiter.cache_clear()
    rng = random.Random(11)
    first = application_body(rng)
    assert create(api, lambda_context, first, key="limit-key-1")[0] == 201
    assert create(api, lambda_context, application_body(rng), key="limit-key-2")[0] == 201
    status, body = create(api, lambda_context, application_body(rng), key="limit-key-3")
    assert status == 429
    assert body["error"]["code"] == "too_many_requests"
    # a replay of an accepted request is not a new creation: it is answered, not limited
    assert create(api, lambda_context, first, key="limit-key-1")[0] == 201
    # another user has their own allowance
    assert (
        create(api, lambda_context, application_body(rng), key="limit-key-4", user="u2")[0] == 201
    )
