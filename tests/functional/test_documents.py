"""Documents over HTTP on moto: presigned upload, ownership, attaching to an application."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
import requests

from synthdocs import generate_document
from tests.support.apigw import call, http_event
from tests.support.handlers import load_handler_module
from tests.support.identities import application_body


class Api:
    """The ApiFunction handler (functions/api composes every router), called like API Gateway."""

    def __init__(self, context: Any) -> None:
        self.handler = load_handler_module("api")
        self.context = context

    def __call__(
        self, method: str, path: str, body: Any = None, *, user: str | None = "user-1", **kw: Any
    ):
        event = http_event(method, path, body=body, user=user, **kw)
        return call(self.handler, event, self.context)


@pytest.fixture
def api(resources: Any, lambda_context: Any) -> Api:
    from loanflow.documents import _presigner

    _presigner.cache_clear()
    # moto judges the presigned requests it intercepts as not sent over TLS, so the bucket's
    # TLS-only policy (checked in test_documents_are_private) would refuse every upload here.
    boto3.client("s3").delete_bucket_policy(Bucket=resources.names["DocumentsBucket"])
    return Api(lambda_context)


def upload(api: Api, kind: str = "id_card_front", *, user: str = "user-1", seed: int = 3) -> str:
    doc = generate_document(seed, kind)
    status, ticket = api(
        "POST", "/documents", {"type": kind, "content_type": "image/jpeg"}, user=user
    )
    assert status == 201, ticket
    put = requests.put(ticket["upload_url"], data=doc.image, headers=ticket["headers"], timeout=10)
    assert put.status_code == 200, put.text
    return str(ticket["document_id"])


def test_a_document_is_uploaded_through_its_presigned_url(api: Api, resources: Any) -> None:
    document_id = upload(api)
    s3 = boto3.client("s3")
    bucket = resources.names["DocumentsBucket"]
    objects = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["Key"] for o in objects] == [f"uploads/user-1/{document_id}"]
    head = s3.head_object(Bucket=bucket, Key=objects[0]["Key"])
    assert head["ContentType"] == "image/jpeg"
    assert head["ServerSideEncryption"] == "aws:kms"


def test_the_upload_url_signs_the_declared_content_type(api: Api) -> None:
    status, ticket = api("POST", "/documents", {"type": "bank_card", "content_type": "image/png"})
    assert status == 201
    assert "X-Amz-SignedHeaders=content-type%3Bhost" in ticket["upload_url"]
    assert ticket["headers"] == {"Content-Type": "image/png"}


def test_an_upload_of_another_content_type_cannot_be_attached(api: Api) -> None:
    _, ticket = api("POST", "/documents", {"type": "bank_card", "content_type": "image/png"})
    requests.put(
        ticket["upload_url"], data=b"GIF89a", headers={"Content-Type": "image/gif"}, timeout=10
    )
    _, app = api(
        "POST", "/applications", application_body(), headers={"idempotency-key": "key-doc-0006"}
    )
    status, answer = api(
        "POST", f"/applications/{app['id']}/documents", {"document_id": ticket["document_id"]}
    )
    assert status == 422
    assert answer["error"]["field"] == "document_id"


def test_a_declared_size_is_signed_into_the_url(api: Api) -> None:
    status, ticket = api(
        "POST", "/documents", {"type": "bank_card", "content_type": "image/png", "size": 1234}
    )
    assert status == 201
    assert ticket["headers"] == {"Content-Type": "image/png", "Content-Length": "1234"}
    assert "content-length" in ticket["upload_url"].lower()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "passport", "content_type": "image/jpeg"}, "type"),
        ({"type": "bank_card", "content_type": "image/gif"}, "content_type"),
        ({"type": "bank_card", "content_type": "image/png", "size": 0}, "size"),
        ({"type": "bank_card", "content_type": "image/png", "size": 50_000_000}, "size"),
    ],
)
def test_bad_upload_requests_are_refused(api: Api, body: dict, field: str) -> None:
    status, answer = api("POST", "/documents", body)
    assert status in (400, 422), answer
    assert answer["error"]["field"] == field


def test_a_document_is_attached_at_creation_and_later(api: Api, resources: Any) -> None:
    front = upload(api)
    status, app = api(
        "POST",
        "/applications",
        application_body(document_ids=[front]),
        headers={"idempotency-key": "key-doc-0001"},
    )
    assert status == 201, app
    card = upload(api, "bank_card")
    status, answer = api("POST", f"/applications/{app['id']}/documents", {"document_id": card})
    assert status == 200, answer
    from loanflow.documents import document_repository

    attached = document_repository().for_application(app["id"])
    assert [(d.id, d.status) for d in attached] == [(front, "ATTACHED"), (card, "ATTACHED")]


def test_another_users_document_is_not_found(api: Api) -> None:
    theirs = upload(api, user="user-2")
    status, answer = api(
        "POST",
        "/applications",
        application_body(document_ids=[theirs]),
        headers={"idempotency-key": "key-doc-0002"},
    )
    assert status == 404
    assert answer["error"]["code"] == "document_not_found"
    status, answer = api("POST", "/autofill", {"document_ids": [theirs]})
    assert status == 404


def test_a_document_not_yet_uploaded_cannot_be_attached(api: Api) -> None:
    _, ticket = api("POST", "/documents", {"type": "bank_card", "content_type": "image/jpeg"})
    _, app = api(
        "POST", "/applications", application_body(), headers={"idempotency-key": "key-doc-0003"}
    )
    status, answer = api(
        "POST", f"/applications/{app['id']}/documents", {"document_id": ticket["document_id"]}
    )
    assert status == 409
    assert answer["error"]["code"] == "document_not_uploaded"


def test_a_document_belongs_to_one_application(api: Api) -> None:
    doc = upload(api)
    _, first = api(
        "POST", "/applications", application_body(), headers={"idempotency-key": "key-doc-0004"}
    )
    _, second = api(
        "POST", "/applications", application_body(), headers={"idempotency-key": "key-doc-0005"}
    )
    assert api("POST", f"/applications/{first['id']}/documents", {"document_id": doc})[0] == 200
    assert api("POST", f"/applications/{first['id']}/documents", {"document_id": doc})[0] == 200
    status, answer = api("POST", f"/applications/{second['id']}/documents", {"document_id": doc})
    assert status == 409
    assert answer["error"]["code"] == "document_already_attached"


def test_documents_are_private(resources: Any) -> None:
    import json

    s3 = boto3.client("s3")
    bucket = resources.names["DocumentsBucket"]
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert policy["Statement"][0]["Effect"] == "Deny"
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    from tests.conftest import template

    bucket_spec = template()["Resources"]["DocumentsBucket"]["Properties"]
    rules = bucket_spec["LifecycleConfiguration"]["Rules"]  # (moto's provisioning skips these)
    assert {r["Id"] for r in rules} == {"KycRetention", "AbortIncompleteUploads"}
    sse = bucket_spec["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"


def test_erasure_deletes_the_photos_except_those_kept_by_law(api: Api, resources: Any) -> None:
    from loanflow.documents import document_repository

    kept, gone, loose = upload(api), upload(api, "bank_card"), upload(api, seed=4)
    _, funded = api(
        "POST", "/applications", application_body(), headers={"idempotency-key": "key-doc-0007"}
    )
    _, other = api(
        "POST", "/applications", application_body(), headers={"idempotency-key": "key-doc-0008"}
    )
    repo = document_repository()
    repo.attach("user-1", funded["id"], [kept])
    repo.attach("user-1", other["id"], [gone])
    theirs = upload(api, user="user-2")
    # when
    erased = repo.erase_for_owner("user-1", keep_applications=frozenset({funded["id"]}))
    # then
    assert sorted(erased) == sorted([gone, loose])
    assert [d.id for d in repo.for_application(funded["id"])] == [kept]
    assert repo.for_application(other["id"]) == []
    keys = {o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=repo.bucket)["Contents"]}
    assert keys == {f"uploads/user-1/{kept}", f"uploads/user-2/{theirs}"}


def test_the_document_routes_are_in_the_openapi_document(api: Api) -> None:
    status, spec = api("GET", "/openapi.json", user=None)
    assert status == 200
    assert {"/documents", "/applications/{application_id}/documents", "/autofill"} <= set(
        spec["paths"]
    )
