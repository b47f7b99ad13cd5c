"""ApiFunction: the whole HTTP API behind API Gateway (HTTP API, JWT authorizer).

A doorway: the routers in ``loanflow.http`` hold the routes; this module composes them, maps errors
once, and serves the generated OpenAPI document.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from loanflow.http import applications, contracts, documents, me, workflow
from loanflow.http.errors import register_error_handlers
from loanflow.observability import logger, metrics, tracer
from loanflow.settings import get_settings

get_settings()  # fail at cold start, not at the first request, when the function is misconfigured

app = APIGatewayHttpResolver(enable_validation=True)
register_error_handlers(app)
for area in (applications, workflow, documents, contracts, me):
    app.include_router(area.router)

OPENAPI: dict[str, Any] = {"title": "loanflow API", "version": "1.0.0"}
app.enable_swagger(path="/docs", **OPENAPI)


@app.get("/openapi.json", include_in_schema=False)
def openapi() -> Response[str]:
    return Response(
        status_code=200,
        content_type="application/json",
        body=app.get_openapi_json_schema(**OPENAPI),
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
