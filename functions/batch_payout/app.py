"""BatchPayoutFunction (EventBridge Scheduler, every PayoutIntervalMinutes): pays every queued payout
as bank batches. One run at a time (a lease fenced on every bank request); partial failures are
requeued, unknown outcomes asked about, poison payouts sent to the DLQ. Returns the run's report."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from loanflow.observability import logger, metrics, tracer
from loanflow.payouts import Payouts


@cache
def payouts() -> Payouts:
    return Payouts.from_environment()


payouts()  # fail at cold start, not at the first event, when the function is misconfigured


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = payouts().batch().run(run_id=f"run_{context.aws_request_id}")
    metrics.add_metric(name="PayoutsPaid", unit=MetricUnit.Count, value=report.paid)
    metrics.add_metric(name="PayoutsFailed", unit=MetricUnit.Count, value=report.failed)
    metrics.add_metric(name="PayoutsInDoubt", unit=MetricUnit.Count, value=report.in_doubt)
    return report.as_dict()
