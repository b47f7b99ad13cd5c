"""ExtractDocument and CrossCheck handlers on moto, with the real local OCR engine."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from synthdocs import generate_document
from tests.support.apigw import load_event
from tests.support.handlers import load_handler_module
from tests.support.identities import application_body

pytestmark = pytest.mark.slow


@pytest.fixture
def docs(resources: Any) -> Any:
    from loanflow.documents import document_repository

    repo = document_repository()
    # moto ignores the Condition of the bucket's TLS-only Deny and would refuse every object
    # operation: the policy itself is checked in tests/functional/test_documents.py.
    boto3.client("s3").delete_bucket_policy(Bucket=repo.bucket)
    return repo


def stored(
    repo: Any, owner: str, kind: str, content: bytes, content_type: str = "image/jpeg"
) -> str:
    from loanflow.models import DocumentType

    document = repo.create(owner, DocumentType(kind), content_type)
    boto3.client("s3").put_object(
        Bucket=repo.bucket, Key=document.s3_key, Body=content, ContentType=content_type
    )
    return str(document.id)


def test_an_id_card_is_read_and_its_fields_sealed(
    docs: Any, lambda_context: Any, resources: Any
) -> None:
    # given
    doc = generate_document(21, "id_card_front")
    document_id = stored(docs, "user-1", "id_card_front", doc.image)
    event = {**load_event("extract_document.json"), "document_id": document_id}
    # when
    summary = load_handler_module("extract_document").handler(event, lambda_context)
    # then
    assert summary == {
        "document_id": document_id,
        "document_type": "id_card_front",
        "status": "READ",
        "engine": "local",
        "problems": [],
    }
    extraction = docs.extraction(document_id)
    assert extraction.fields["id_number"].value == doc.truth["id_number"]
    assert extraction.fields["name"].value == doc.truth["name"]
    raw = json.dumps(
        boto3.client("dynamodb").scan(TableName=resources.names["LoanflowTable"])["Items"],
        ensure_ascii=False,
    )
    assert doc.truth["id_number"] not in raw
    assert doc.truth["name"] not in raw


@pytest.mark.parametrize(
    ("content", "content_type", "problem"),
    [
        (b"\xff\xd8 not really a jpeg", "image/jpeg", "corrupt_image"),
        (b"%PDF-1.7 ...", "application/pdf", "unsupported_content_type"),
    ],
)
def test_an_unreadable_document_is_marked_not_failed(
    docs: Any, lambda_context: Any, content: bytes, content_type: str, problem: str
) -> None:
    document_id = stored(docs, "user-1", "bank_card", content, content_type)
    summary = load_handler_module("extract_document").handler(
        {"document_id": document_id}, lambda_context
    )
    assert summary["status"] == "UNREADABLE"
    assert summary["problems"] == [problem]
    assert docs.get(document_id).status == "UNREADABLE"


def test_a_document_never_uploaded_is_unreadable(docs: Any, lambda_context: Any) -> None:
    from loanflow.models import DocumentType

    document = docs.create("user-1", DocumentType.BANK_CARD, "image/jpeg")
    summary = load_handler_module("extract_document").handler(
        {"document_id": document.id}, lambda_context
    )
    assert summary["problems"] == ["not_uploaded"]


def create_application(owner: str, body: dict[str, Any]) -> str:
    from loanflow.models import ApplicationRequest
    from loanflow.repository import application_repository

    request = ApplicationRequest.model_validate(body)
    return str(application_repository().create(owner, request, actor=f"user:{owner}").id)


def read_all(document_ids: list[str], context: Any) -> None:
    handler = load_handler_module("extract_document").handler
    for document_id in document_ids:
        handler({"document_id": document_id}, context)


def test_cross_check_clears_an_applicant_whose_documents_match(
    docs: Any, lambda_context: Any
) -> None:
    # given: the applicant typed what their ID card and bank card say
    front, card = generate_document(31, "id_card_front"), generate_document(31, "bank_card")
    person = front.person
    ids = [
        stored(docs, "user-1", "id_card_front", front.image),
        stored(docs, "user-1", "bank_card", card.image),
    ]
    body = application_body(
        name=person.name, id_number=person.id_number, bank_card=person.bank_card
    )
    app_id = create_application("user-1", body)
    docs.attach("user-1", app_id, ids)
    read_all(ids, lambda_context)
    # when
    event = {**load_event("cross_check.json"), "application_id": app_id}
    result = load_handler_module("cross_check").handler(event, lambda_context)
    # then
    assert result["outcome"] == "clear", result
    assert result["signals"] == {"name": "match", "id_number": "match", "bank_card": "match"}
    assert result["declines"] == result["reviews"] == []


def test_cross_check_declines_someone_elses_id_card(docs: Any, lambda_context: Any) -> None:
    theirs = generate_document(32, "id_card_front")
    ids = [stored(docs, "user-1", "id_card_front", theirs.image)]
    app_id = create_application("user-1", application_body())
    docs.attach("user-1", app_id, ids)
    read_all(ids, lambda_context)
    result = load_handler_module("cross_check").handler({"application_id": app_id}, lambda_context)
    assert result["outcome"] == "mismatch"
    assert [r["code"] for r in result["declines"]] == ["DOC_IDENTITY_MISMATCH"]


def test_cross_check_without_documents(docs: Any, lambda_context: Any) -> None:
    app_id = create_application("user-1", application_body())
    result = load_handler_module("cross_check").handler({"application_id": app_id}, lambda_context)
    assert result["outcome"] == "no_documents"
