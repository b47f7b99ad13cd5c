"""Every error the API returns, mapped to HTTP in this one place: ``{"error": {code, message, field}}``."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from pydantic import BaseModel

from loanflow.errors import BadRequest, LoanflowError
from loanflow.observability import logger

ERROR_DESCRIPTIONS = {
    400: "Malformed request: the body is not valid JSON, or a header is invalid",
    401: "No valid bearer token",
    403: "The caller lacks the group this route needs",
    404: "No such resource for this caller",
    409: "The request conflicts with the resource's current state",
    413: "The request body is too large",
    415: "The request body is not application/json",
    422: "The request fails validation",
    429: "Too many requests; retry later",
    502: "A partner service (the document reader) failed; retry later",
}


JSON_MEDIA_TYPES = ("application/json",)
METHODS_WITH_BODY = ("POST", "PUT", "PATCH")


class UnsupportedMediaType(LoanflowError):
    status_code = 415
    code = "unsupported_media_type"


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    """Every error the API (and the gateway in front of it) returns."""

    error: ErrorDetail


def route_responses(
    status: int, model: type[BaseModel], *errors: int, description: str = "OK"
) -> dict[int, OpenAPIResponse]:
    """A route's documented answers: its success, 401 and 422 (every route), and ``errors``."""
    documented: dict[int, OpenAPIResponse] = {
        status: {"description": description, "content": {"application/json": {"model": model}}}
    }
    for code in sorted({401, 422, *errors}):
        documented[code] = {
            "description": ERROR_DESCRIPTIONS[code],
            "content": {"application/json": {"model": ErrorBody}},
        }
    return documented


def error_response(status: int, code: str, message: str, field: str | None = None) -> Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if field:
        error["field"] = field
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps({"error": error}, ensure_ascii=False),
    )


def _field_of(loc: Any) -> str | None:
    parts = [str(p) for p in (loc or ()) if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or None


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def json_bodies_only(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response:
    """A request body must be JSON declared as ``application/json``: else 415, or 400.

    Runs after powertools' request validation, so a body that is not JSON at all is already a 400.
    """
    event = app.current_event
    if event.http_method.upper() in METHODS_WITH_BODY and event.body:
        media_type = (event.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
        if media_type not in JSON_MEDIA_TYPES:
            raise UnsupportedMediaType(
                "send the request body as application/json", field="Content-Type"
            )
        try:  # routes without a body param are not parsed by the validation: check them here
            json.loads(event.decoded_body or "", parse_constant=_not_json)
        except (ValueError, RecursionError) as exc:
            raise BadRequest("the request body is not valid JSON") from exc
    return next_middleware(app)


def register_error_handlers(app: APIGatewayHttpResolver) -> None:
    """Map every error to HTTP, and refuse request bodies that are not JSON before any route."""
    app.use([json_bodies_only])

    @app.exception_handler(LoanflowError)
    def domain_error(exc: LoanflowError) -> Response:
        logger.info("request refused", extra={"code": exc.code, "status": exc.status_code})
        return error_response(exc.status_code, exc.code, exc.message, exc.field)

    @app.exception_handler(RequestValidationError)
    def invalid_request(exc: RequestValidationError) -> Response:
        errors = exc.errors()
        first = errors[0] if errors else {}
        kind = str(first.get("type", ""))
        if kind == "json_invalid":
            return error_response(400, "invalid_json", "the request body is not valid JSON")
        field = _field_of(first.get("loc"))
        message = str(first.get("msg", "invalid request"))
        if kind == "missing" and field:
            message = f"{field} is required"
        status = 400 if "header" in (first.get("loc") or ()) else 422
        return error_response(status, "validation_failed", message, field)

    @app.exception_handler(RequestUnsupportedContentType)
    def unsupported_media_type(_: RequestUnsupportedContentType) -> Response:
        return error_response(
            415,
            "unsupported_media_type",
            "send the request body as application/json",
            "Content-Type",
        )

    @app.exception_handler(RecursionError)
    def nested_too_deeply(_: RecursionError) -> Response:
        # the request validation parses the body before any route code: only JSON nests this deep
        return error_response(400, "invalid_json", "the request body is nested too deeply")

    @app.exception_handler(UnicodeDecodeError)
    def not_utf8(_: UnicodeDecodeError) -> Response:
        # a binary body reaches the function base64-encoded; powertools decodes it as UTF-8
        return error_response(400, "invalid_json", "the request body is not valid UTF-8 JSON")

    @app.exception_handler(IdempotencyValidationError)
    def key_reused(_: IdempotencyValidationError) -> Response:
        return error_response(
            409,
            "idempotency_key_reused",
            "this Idempotency-Key was already used with a different request body",
            "Idempotency-Key",
        )

    @app.exception_handler(IdempotencyAlreadyInProgressError)
    def key_in_flight(_: IdempotencyAlreadyInProgressError) -> Response:
        return error_response(
            409,
            "request_in_progress",
            "a request with this Idempotency-Key is still being processed; retry shortly",
            "Idempotency-Key",
        )

    @app.not_found
    def no_route(_: Exception) -> Response:
        return error_response(404, "route_not_found", "no such route")
