"""The textract engine: AnalyzeDocument (images) on a recorded-shape response through botocore's
Stubber (which validates the request against the real API model), and the asynchronous analysis
(PDFs) on moto."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from loanflow import aws
from loanflow.extract import QUERIES, extract
from loanflow.models import DocumentType
from loanflow.ocr.errors import UnreadableDocument
from loanflow.ocr.textract import TextractEngine

FIXTURE = (
    Path(__file__).resolve().parents[1]
    / "fixtures"
    / "textract"
    / "analyze_document_bank_card.json"
)


@pytest.fixture
def textract(monkeypatch: pytest.MonkeyPatch) -> Any:
    client = boto3.client("textract", region_name="us-east-1")
    monkeypatch.setattr(aws, "client", lambda service: client)
    return client


def test_an_image_is_analyzed_with_forms_and_queries(textract: Any) -> None:
    recorded = json.loads(FIXTURE.read_text())
    queries = QUERIES[DocumentType.BANK_CARD]
    with Stubber(textract) as stub:
        stub.add_response(
            "analyze_document",
            recorded,
            {
                "Document": {"Bytes": b"jpeg bytes"},
                "FeatureTypes": ["FORMS", "QUERIES"],
                "QueriesConfig": {"Queries": [{"Text": t, "Alias": a} for t, a in queries]},
            },
        )
        response = TextractEngine().analyze(b"jpeg bytes", "image/jpeg", queries=queries)
    assert extract(DocumentType.BANK_CARD, response).fields["bank_card"].value == "6222021234567894"


def test_an_unsupported_document_is_unreadable(textract: Any) -> None:
    with Stubber(textract) as stub:
        stub.add_client_error("analyze_document", "UnsupportedDocumentException", "bad format")
        with pytest.raises(UnreadableDocument) as raised:
            TextractEngine().analyze(b"x", "image/png")
    assert raised.value.reason == "unsupported_content_type"


def test_a_pdf_needs_its_s3_location() -> None:
    with pytest.raises(UnreadableDocument):
        TextractEngine().analyze(b"%PDF", "application/pdf")


def test_a_pdf_is_analyzed_asynchronously_from_s3(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.textract.models import TextractBackend

    recorded = json.loads(FIXTURE.read_text())
    monkeypatch.setattr(TextractBackend, "BLOCKS", recorded["Blocks"])
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="docs")
    s3.put_object(
        Bucket="docs", Key="uploads/u/doc", Body=b"%PDF-1.7", ContentType="application/pdf"
    )
    response = TextractEngine(poll_seconds=0).analyze(
        b"%PDF-1.7",
        "application/pdf",
        queries=QUERIES[DocumentType.BANK_STATEMENT],
        s3_location=("docs", "uploads/u/doc"),
    )
    assert len(response["Blocks"]) == len(recorded["Blocks"])
    assert (
        extract(DocumentType.BANK_STATEMENT, response).fields["bank_card"].value
        == "6222021234567894"
    )
