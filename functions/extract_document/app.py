"""ExtractDocumentFunction: read one document (the ExtractDocuments Map's iterator, and the reader
that ``POST /autofill`` invokes). Returns a summary without PII; the fields are sealed in the
document's record."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from loanflow.documents import document_settings
from loanflow.observability import logger, metrics, tracer
from loanflow.ocr import warm_up
from loanflow.ocr.service import read_document
from loanflow.settings import get_settings

get_settings()  # fail at cold start, not at the first event, when the function is misconfigured
document_settings()
warm_up()  # load the OCR models during init (a cold start's CPU boost), not on the first document


class ReadRequest(BaseModel):
    document_id: str = Field(pattern=r"^doc_[0-9A-Z]{26}$")
    application_id: str | None = None


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = ReadRequest.model_validate(event)
    logger.append_keys(document_id=request.document_id, application_id=request.application_id)
    return read_document(request.document_id).model_dump(mode="json")
