"""CrossCheckFunction (state CrossCheck): the form against what its documents say. Returns the
``crosscheck`` part (signals and reason codes, no PII) that Decide reads."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from loanflow.documents import document_settings
from loanflow.observability import logger, metrics, tracer
from loanflow.ocr.service import cross_check_application
from loanflow.settings import get_settings

get_settings()  # fail at cold start, not at the first event, when the function is misconfigured
document_settings()


class CrossCheckState(BaseModel):
    model_config = ConfigDict(extra="ignore")

    application_id: str = Field(pattern=r"^app_[0-9A-Z]{26}$")


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = CrossCheckState.model_validate(event)
    logger.append_keys(application_id=state.application_id)
    return cross_check_application(state.application_id).model_dump(mode="json")
