"""The one place where logger, tracer and metrics are created; everything imports them from here."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="loanflow")
tracer = Tracer(service="loanflow")
metrics = Metrics(namespace="Loanflow", service="loanflow")
