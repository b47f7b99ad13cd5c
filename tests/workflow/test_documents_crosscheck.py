"""Documents in the decision workflow, on the real ASL: ListDocuments → ExtractDocuments (Map, the
real local OCR engine) → CrossCheck → … → Decide reads the cross-check."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from synthdocs import generate_document
from tests.support.stepfunctions import visited_states, wait_for
from tests.workflow.conftest import OWNER
from tests.workflow.test_paths import applicant, start

pytestmark = pytest.mark.slow
DOCUMENT_STATES = ["ListDocuments", "HasDocuments", "ExtractDocuments", "ExtractDocument"]


def attach_documents(cloud: Any, application_id: str, *documents: Any) -> list[str]:
    """Upload the photos as the app does (records + S3 objects) and attach them."""
    from loanflow.documents import document_repository
    from loanflow.models import DocumentType

    repo = document_repository()
    boto3.client("s3").delete_bucket_policy(Bucket=repo.bucket)  # moto ignores its Condition
    ids = []
    for doc in documents:
        record = repo.create(OWNER, DocumentType(doc.kind), doc.content_type)
        boto3.client("s3").put_object(
            Bucket=repo.bucket, Key=record.s3_key, Body=doc.image, ContentType=doc.content_type
        )
        ids.append(record.id)
    repo.attach(OWNER, application_id, ids)
    return ids


def with_identity_of(body: dict[str, Any], seed: int) -> tuple[dict[str, Any], Any, Any]:
    """``body`` typed by the person whose ID card and bank card ``seed`` makes."""
    front, card = generate_document(seed, "id_card_front"), generate_document(seed, "bank_card")
    person = front.person
    typed = {
        **body,
        "name": person.name,
        "id_number": person.id_number,
        "bank_card": person.bank_card,
    }
    return typed, front, card


def output_of(arn: str, part: str) -> Any:
    """The ``part`` of the state data when the execution left CrossCheck (or NoDocuments)."""
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    for event in sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]:
        details = event.get("stateExitedEventDetails")
        if details and details["name"] in ("CrossCheck", "NoDocuments"):
            return json.loads(details["output"])[part]
    raise AssertionError("the execution never left CrossCheck")


def test_matching_documents_are_read_cross_checked_and_approved(cloud: Any) -> None:
    # given a low-risk applicant whose ID card and bank card say what they typed
    body, front, card = with_identity_of(applicant("A"), seed=61)
    application_id = cloud.create(body)
    attach_documents(cloud, application_id, front, card)
    # when
    assert cloud.submit(application_id)[0] == 202
    assert cloud.drain_intake() == 1
    arn = cloud.execution_arn(application_id)
    execution = wait_for(arn, until=lambda _: "AwaitSignature" in visited_states(arn), timeout_s=60)
    # then
    visited = visited_states(arn)
    assert visited[2:8] == [*DOCUMENT_STATES, "ExtractDocument", "CrossCheck"], visited
    assert output_of(arn, "crosscheck")["outcome"] == "clear"
    assert [d["status"] for d in output_of(arn, "documents")] == ["READ", "READ"]
    app = cloud.application(application_id)
    assert execution["status"] == "RUNNING"
    assert (app.decision.outcome, app.decision.tier) == ("approved", "A")


def test_someone_elses_id_card_is_declined_with_the_reason(cloud: Any) -> None:
    # given the typed identity is not the one on the uploaded ID card
    body, _, _ = with_identity_of(applicant("A"), seed=62)
    application_id = cloud.create(body)
    attach_documents(cloud, application_id, generate_document(63, "id_card_front"))
    # when
    assert cloud.submit(application_id)[0] == 202
    cloud.drain_intake()
    execution = wait_for(cloud.execution_arn(application_id), timeout_s=60)
    # then
    app = cloud.application(application_id)
    assert execution["status"] == "SUCCEEDED"
    assert app.status == "DECLINED"
    assert [r.code for r in app.decision.reasons] == ["DOC_IDENTITY_MISMATCH"]


def test_an_unreadable_photo_sends_the_application_to_a_person_not_a_decline(cloud: Any) -> None:
    from synthdocs import SyntheticDocument

    person = generate_document(64, "id_card_front").person
    blurry = SyntheticDocument("id_card_front", 64, b"\xff\xd8 broken", "image/jpeg", {}, person)
    application_id = start_with(cloud, applicant("A"), blurry)
    arn = cloud.execution_arn(application_id)
    wait_for(arn, until=lambda _: "ManualReview" in visited_states(arn), timeout_s=60)
    app = cloud.application(application_id)
    assert app.status == "IN_REVIEW"
    assert [r.code for r in app.decision.reasons] == ["DOC_REUPLOAD_NEEDED"]


def test_without_documents_ocr_is_skipped(cloud: Any) -> None:
    application_id = start(cloud, applicant("A"))
    arn = cloud.execution_arn(application_id)
    wait_for(arn, until=lambda _: "AwaitSignature" in visited_states(arn), timeout_s=60)
    visited = visited_states(arn)
    assert visited[2:5] == ["ListDocuments", "HasDocuments", "NoDocuments"]
    assert "ExtractDocuments" not in visited
    assert output_of(arn, "crosscheck")["outcome"] == "no_documents"


def start_with(cloud: Any, body: dict[str, Any], *documents: Any) -> str:
    application_id = cloud.create(body)
    attach_documents(cloud, application_id, *documents)
    assert cloud.submit(application_id)[0] == 202
    cloud.drain_intake()
    return application_id
