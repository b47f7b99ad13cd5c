"""POST /autofill: the caller's ID card and bank card pre-fill the form.

The API function reads documents by invoking ExtractDocumentFunction; here that Lambda Invoke is
answered in-process by the real handler, as the local cloud's runtime does."""

from __future__ import annotations

import io
import json
from typing import Any

import boto3
import pytest

from loanflow import aws
from synthdocs import generate_document
from tests.functional.test_documents import Api
from tests.support.handlers import load_handler_module

pytestmark = pytest.mark.slow


class InProcessLambda:
    """The Lambda Invoke API for ExtractDocumentFunction, answered by its handler."""

    def __init__(self, function_name: str, context: Any) -> None:
        self.function_name = function_name
        self.handler = load_handler_module("extract_document").handler
        self.context = context
        self.calls = 0

    def invoke(self, *, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        assert FunctionName == self.function_name
        assert InvocationType == "RequestResponse"
        self.calls += 1
        result = self.handler(json.loads(Payload), self.context)
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(result).encode())}


@pytest.fixture
def api(resources: Any, lambda_context: Any, monkeypatch: pytest.MonkeyPatch) -> Api:
    from loanflow.documents import _presigner, document_settings

    _presigner.cache_clear()
    document_settings.cache_clear()
    boto3.client("s3").delete_bucket_policy(Bucket=resources.names["DocumentsBucket"])
    lam = InProcessLambda(document_settings().extract_document_function or "", lambda_context)
    real = aws.client
    monkeypatch.setattr(
        aws, "client", lambda service: lam if service == "lambda" else real(service)
    )
    api = Api(lambda_context)
    api.lam = lam  # type: ignore[attr-defined]
    return api


def upload(api: Api, kind: str, image: bytes) -> str:
    import requests

    _, ticket = api("POST", "/documents", {"type": kind, "content_type": "image/jpeg"})
    assert requests.put(ticket["upload_url"], data=image, headers=ticket["headers"], timeout=10).ok
    return str(ticket["document_id"])


def test_id_card_and_bank_card_fill_the_form(api: Api) -> None:
    # given
    front, card = generate_document(41, "id_card_front"), generate_document(41, "bank_card")
    ids = [upload(api, "id_card_front", front.image), upload(api, "bank_card", card.image)]
    # when
    status, body = api("POST", "/autofill", {"document_ids": ids})
    # then
    assert status == 200, body
    values = {k: v["value"] for k, v in body["fields"].items()}
    person = front.person
    assert values["name"] == person.name
    assert values["id_number"] == person.id_number
    assert values["birth_date"] == person.birth_date.isoformat()
    assert values["sex"] == ("M" if person.sex == "男" else "F")
    assert values["bank_card"] == person.bank_card
    assert all(0 < v["confidence"] <= 1 for v in body["fields"].values())
    assert [d["status"] for d in body["documents"]] == ["READ", "READ"]


def test_a_document_read_once_is_not_read_again(api: Api) -> None:
    card = generate_document(42, "bank_card")
    document_id = upload(api, "bank_card", card.image)
    api("POST", "/autofill", {"document_ids": [document_id]})
    status, body = api("POST", "/autofill", {"document_ids": [document_id]})
    assert status == 200
    assert body["fields"]["bank_card"]["value"] == card.person.bank_card
    assert api.lam.calls == 1  # type: ignore[attr-defined]


def test_an_unreadable_photo_says_so(api: Api) -> None:
    document_id = upload(api, "id_card_front", b"\xff\xd8 not an image")
    status, body = api("POST", "/autofill", {"document_ids": [document_id]})
    assert status == 200
    assert body["fields"] == {}
    assert body["documents"][0]["status"] == "UNREADABLE"


def test_autofill_needs_document_ids(api: Api) -> None:
    status, body = api("POST", "/autofill", {"document_ids": []})
    assert status == 422
    assert body["error"]["field"] == "document_ids"
