"""StarterFunction: drains the intake queues (fast lane and standard) and starts one execution per
application, named by the application id, so a duplicate message cannot start a second one."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Json

from loanflow.observability import logger, tracer
from loanflow.settings import get_settings
from loanflow.submission import IntakeMessage, start_execution

get_settings()  # fail at cold start, not at the first event, when the function is misconfigured


class IntakeRecord(SqsRecordModel):
    body: Json[IntakeMessage]  # type: ignore[assignment,unused-ignore]


processor = BatchProcessor(event_type=EventType.SQS, model=IntakeRecord)


@tracer.capture_method
def record_handler(record: IntakeRecord) -> None:
    start_execution(record.body)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
