"""PrepareContractFunction (state PrepareContract): the contract PDF in Chinese, stored in the private
contracts bucket, its SHA-256 recorded on the application and signed with the platform's KMS key.
Returns the ``contract`` part."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from loanflow.contract import contract_settings, font_path, prepare_task
from loanflow.observability import logger, tracer
from loanflow.settings import get_settings
from loanflow.workflow import WorkflowState

# Fail at cold start, not at the first event, when the function is misconfigured or lacks its font.
get_settings()
contract_settings()
font_path()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = WorkflowState.model_validate(event)
    logger.append_keys(application_id=state.application_id)
    return prepare_task(state.application_id)
