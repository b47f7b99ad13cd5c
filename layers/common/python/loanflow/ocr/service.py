"""Reading a stored document, and autofill from what the caller's documents say.

``read_document`` is the ExtractDocument task (one document: fetch, OCR, extract, seal the result in
its record) and returns a summary without PII for the workflow state. ``autofill`` answers
``POST /autofill``: documents already read answer from their record; the others are read by
invoking the ExtractDocument function (the API function stays small: the OCR runtime lives in that
function's layer).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from loanflow import aws
from loanflow.crosscheck import CrossCheck, DocumentRead, cross_check
from loanflow.documents import (
    DocumentNotUploaded,
    DocumentRepository,
    document_repository,
    document_settings,
)
from loanflow.errors import LoanflowError, ValidationFailed
from loanflow.extract import QUERIES, ExtractedField, Extraction, extract
from loanflow.models import DocumentType
from loanflow.observability import logger, metrics
from loanflow.ocr import analyze, engine_name_for
from loanflow.ocr.errors import UnreadableDocument
from loanflow.repository import application_repository

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")  # ID cards expire at the end of a local day

# which fields each type of document fills in the form, in the order the app shows them
AUTOFILL_FIELDS: dict[DocumentType, tuple[str, ...]] = {
    DocumentType.ID_CARD_FRONT: ("name", "id_number", "birth_date", "sex", "ethnicity", "address"),
    DocumentType.ID_CARD_BACK: ("issuing_authority", "valid_from", "valid_until"),
    DocumentType.BANK_CARD: ("bank_card", "issuer"),
    DocumentType.BANK_STATEMENT: ("bank_card", "name"),
}


class ReadSummary(BaseModel):
    """What the workflow keeps of one read document (never the values: they are PII)."""

    document_id: str
    document_type: DocumentType
    status: Literal["READ", "UNREADABLE"]
    engine: str
    problems: list[str] = []


class DocumentStatus(BaseModel):
    document_id: str
    type: DocumentType
    status: Literal["READ", "UNREADABLE"]
    problems: list[str] = []


class Autofill(BaseModel):
    fields: Annotated[
        dict[str, ExtractedField],
        Field(description="Form fields read from the documents, each with its confidence (0–1)"),
    ]
    documents: list[DocumentStatus]


class ExtractInvocationFailed(LoanflowError):
    status_code = 502
    code = "document_reader_failed"


def read_document(document_id: str, repo: DocumentRepository | None = None) -> ReadSummary:
    """OCR one document with the engine configured for its type and store what it says."""
    repo = repo or document_repository()
    document = repo.get(document_id)
    engine = engine_name_for(document.type)
    try:
        response = analyze(
            document.type,
            repo.content(document),
            document.content_type,
            queries=QUERIES[document.type],
            s3_location=(repo.bucket, document.s3_key),
        )
        extraction = extract(document.type, response)
    except UnreadableDocument as exc:
        extraction = Extraction(document_type=document.type, problems=[exc.reason])
    except DocumentNotUploaded:
        extraction = Extraction(document_type=document.type, problems=["not_uploaded"])
    except ValidationFailed:  # too large, or not the declared content type
        extraction = Extraction(document_type=document.type, problems=["rejected_upload"])
    repo.save_extraction(document.id, extraction, engine=engine)
    summary = ReadSummary(
        document_id=document.id,
        document_type=document.type,
        status="READ" if extraction.readable else "UNREADABLE",
        engine=engine,
        problems=extraction.problems,
    )
    logger.info("document read", extra=summary.model_dump(mode="json"))
    metrics.add_metric(name=f"Documents{summary.status.title()}", unit="Count", value=1)
    return summary


def invoke_reader(document_id: str) -> None:
    """Read a document in the ExtractDocument function (synchronous Lambda invoke)."""
    function = document_settings().extract_document_function
    if not function:
        raise ExtractInvocationFailed("the document reader is not configured")
    response = aws.client("lambda").invoke(
        FunctionName=function,
        InvocationType="RequestResponse",
        Payload=json.dumps({"document_id": document_id}).encode(),
    )
    if response.get("FunctionError"):
        logger.error("document reader failed", extra={"document_id": document_id})
        raise ExtractInvocationFailed(f"document {document_id} could not be read; try again")


def autofill(
    owner_id: str,
    document_ids: Sequence[str],
    *,
    reader: Callable[[str], None] | None = None,
    repo: DocumentRepository | None = None,
) -> Autofill:
    """The form fields that the caller's documents give, the most confident reading of each.

    Documents not read yet are read at once, side by side (``reader``: the ExtractDocument
    function by default).
    """
    repo = repo or document_repository()
    read = reader or invoke_reader
    documents = [repo.get_for_owner(d, owner_id) for d in dict.fromkeys(document_ids)]
    extractions = {d.id: repo.extraction(d.id) for d in documents}
    unread = [d.id for d in documents if extractions[d.id] is None]
    if unread:
        with ThreadPoolExecutor(max_workers=len(unread)) as pool:
            list(pool.map(read, unread))
        extractions.update({d: repo.extraction(d) for d in unread})
    fields: dict[str, ExtractedField] = {}
    statuses: list[DocumentStatus] = []
    for document in documents:
        extraction = extractions[document.id]
        if extraction is None:
            raise ExtractInvocationFailed(f"document {document.id} could not be read; try again")
        statuses.append(
            DocumentStatus(
                document_id=document.id,
                type=document.type,
                status="READ" if extraction.readable else "UNREADABLE",
                problems=extraction.problems,
            )
        )
        for name in AUTOFILL_FIELDS[document.type]:
            value = extraction.fields.get(name)
            if value and (name not in fields or value.confidence > fields[name].confidence):
                fields[name] = value
    return Autofill(fields=fields, documents=statuses)


def cross_check_application(
    application_id: str,
    *,
    repo: DocumentRepository | None = None,
    today: date | None = None,
) -> CrossCheck:
    """CrossCheck for one application: its form against every document attached to it."""
    repo = repo or document_repository()
    app = application_repository().get(application_id)
    reads = [
        DocumentRead(
            document_id=document.id,
            document_type=document.type,
            extraction=repo.extraction(document.id),
        )
        for document in repo.for_application(application_id)
    ]
    result = cross_check(
        app.request.name,
        app.request.id_number,
        app.request.bank_card,
        reads,
        today=today or datetime.now(CHINA).date(),
    )
    logger.info(
        "cross-check",
        extra={
            "outcome": result.outcome,
            "signals": result.signals,
            "codes": [r.code for r in result.declines + result.reviews],
        },
    )
    metrics.add_metric(name=f"CrossCheck_{result.outcome}", unit="Count", value=1)
    return result
