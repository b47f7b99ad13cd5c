"""ScoreFunction: the credit model, as the decision workflow's ``Score`` task.

Event: ``{"application_id": str, "features": {<ScoringFeatures>}}``.
Answer: ``{"pd", "score", "model_version", "reasons": [{"code", "feature", "text", "contribution"}]}``.
The model is loaded once, at cold start, from ``MODEL_DIR`` (the scoring layer's ``/opt/model``).
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from loanflow.observability import logger, metrics, tracer
from loanflow.scoring import get_scorer, parse_request

scorer = get_scorer()  # cold start: fail here, clearly, when the model cannot be loaded


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    request = parse_request(event)
    logger.append_keys(application_id=request.application_id)
    result = scorer.score(request.features)
    metrics.add_metric(name="ApplicationsScored", unit=MetricUnit.Count, value=1)
    logger.info("scored", extra={"score": result.score, "model_version": result.model_version})
    return result.model_dump()
