"""The HTTP front: API Gateway HTTP API (payload format 2.0) for the template's routes.

Routes come from the ``HttpApi`` events of the template's functions; the authorizer of a route is the
event's ``Auth.Authorizer`` or its API's ``DefaultAuthorizer`` (``NONE`` makes it public). A JWT
authorizer is enforced before any function runs, with the local issuer's key (see ``auth``); the
claims of a valid token reach the function in ``requestContext.authorizer.jwt.claims`` as API Gateway
passes them (every value a string, lists as ``[a b]``).

The local API is served as its ``$default`` stage at the root of the front's URL, so request paths are
the routes' paths.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from werkzeug.wrappers import Request, Response

from localcloud.auth import InvalidToken, Issuer
from localcloud.provision import Resources

log = logging.getLogger(__name__)

_FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
"""API Gateway's payload quota: a bigger request body is refused with 413 before any function."""
_TEXT_TYPES = re.compile(
    r"^(text/.*|application/(json|.*\+json|xml|.*\+xml|javascript|x-www-form-urlencoded))$"
)


class InvocationLike(Protocol):
    @property
    def payload(self) -> bytes: ...

    @property
    def function_error(self) -> str | None: ...


class Invoker(Protocol):
    """(function name, event) → the invocation's outcome, like ``Runtime.invoke``."""

    def __call__(self, function: str, event: Any) -> InvocationLike: ...


@dataclass(frozen=True)
class JwtAuthorizer:
    name: str
    issuer: str
    audience: tuple[str, ...]
    header: str = "authorization"


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str
    authorizer: JwtAuthorizer | None = None
    scopes: tuple[str, ...] = ()
    api_id: str = "local"

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters if this route serves ``method path``, else None."""
        if self.method not in ("ANY", method):
            return None
        if self.path == "$default":
            return {}
        match = _compile(self.path).match(path)
        return match.groupdict() if match else None

    @property
    def rank(self) -> tuple[int, int, int, int]:
        """Lower is more specific: literal paths, then parameters, then greedy; ANY last."""
        greedy = self.path.count("+}")
        parameters = self.path.count("{") - greedy
        return (self.path == "$default", greedy, parameters, self.method == "ANY")


def _compile(path: str) -> re.Pattern[str]:
    pattern = ""
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{") and part.endswith("+}"):
            pattern += f"(?P<{_group(part[1:-2])}>.+)"
        elif part.startswith("{"):
            pattern += f"(?P<{_group(part[1:-1])}>[^/]+)"
        else:
            pattern += re.escape(part)
    return re.compile(f"^{pattern}$")


def _group(name: str) -> str:
    if not name.isidentifier():
        raise ValueError(f"path parameter {{{name}}} is not supported locally")
    return name


def _authorizers(api: dict[str, Any], resources: Resources) -> dict[str, JwtAuthorizer]:
    auth = (api.get("Properties") or {}).get("Auth") or {}
    found: dict[str, JwtAuthorizer] = {}
    for name, declaration in (auth.get("Authorizers") or {}).items():
        configuration = resources.resolve(declaration.get("JwtConfiguration") or {})
        if not configuration:
            log.debug("authorizer %s is not a JWT authorizer: not emulated", name)
            continue
        source = str(declaration.get("IdentitySource", "$request.header.Authorization"))
        header = source.rsplit(".", 1)[-1].lower()
        audience = configuration.get("audience") or []
        found[name] = JwtAuthorizer(name, str(configuration["issuer"]), tuple(audience), header)
    return found


def http_routes(template: dict[str, Any], resources: Resources) -> list[Route]:
    """Every ``HttpApi`` event of the template's functions, most specific first."""
    declared = template.get("Resources") or {}
    routes: list[Route] = []
    for logical_id, resource in declared.items():
        if resource.get("Type") not in _FUNCTION_TYPES or logical_id not in resources.names:
            continue
        for event in ((resource.get("Properties") or {}).get("Events") or {}).values():
            if event.get("Type") != "HttpApi":
                continue
            properties = event.get("Properties") or {}
            api_ref = properties.get("ApiId")
            api_id = api_ref.get("Ref") if isinstance(api_ref, dict) else None
            api = declared.get(api_id, {}) if api_id else {}
            auth = (api.get("Properties") or {}).get("Auth") or {}
            authorizers = _authorizers(api, resources)
            event_auth = properties.get("Auth") or {}
            chosen = event_auth.get("Authorizer", auth.get("DefaultAuthorizer"))
            authorizer = None if chosen in (None, "NONE") else authorizers.get(chosen)
            if chosen not in (None, "NONE") and authorizer is None:
                log.warning("route %s uses authorizer %s, not emulated", properties, chosen)
            routes.append(
                Route(
                    method=str(properties.get("Method", "ANY")).upper(),
                    path=str(properties.get("Path", "$default")),
                    function=resources.names[logical_id],
                    authorizer=authorizer,
                    scopes=tuple(event_auth.get("AuthorizationScopes") or ()),
                    api_id=resources.names.get(api_id or "ServerlessHttpApi", "local"),
                )
            )
    return sorted(routes, key=lambda route: route.rank)


# -- event and response translation ----------------------------------------------------------------


def _claim_text(value: Any) -> str:
    if isinstance(value, list):
        return "[" + " ".join(str(item) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _is_text(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return not media_type or bool(_TEXT_TYPES.match(media_type))


def http_api_event(
    request: Request,
    route: Route,
    path_parameters: dict[str, str],
    *,
    claims: dict[str, Any] | None = None,
    request_id: str | None = None,
    account_id: str = "123456789012",
    now: float | None = None,
) -> dict[str, Any]:
    """The payload-format-2.0 event API Gateway sends for ``request`` on ``route``."""
    now = time.time() if now is None else now
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        if key == "cookie":
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    cookies = [
        cookie.strip() for cookie in request.headers.get("Cookie", "").split(";") if cookie.strip()
    ]
    query = {key: ",".join(request.args.getlist(key)) for key in request.args}
    host = request.host.split(":", 1)[0]
    http = {
        "method": request.method,
        "path": request.path,
        "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
        "sourceIp": request.remote_addr or "127.0.0.1",
        "userAgent": request.headers.get("User-Agent", ""),
    }
    request_context: dict[str, Any] = {
        "accountId": account_id,
        "apiId": route.api_id,
        "domainName": request.host,
        "domainPrefix": host.split(".", 1)[0],
        "http": http,
        "requestId": request_id or str(uuid.uuid4()),
        "routeKey": route.route_key,
        "stage": "$default",
        "time": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now * 1000),
    }
    if claims is not None:
        scope = claims.get("scope")
        request_context["authorizer"] = {
            "jwt": {
                "claims": {name: _claim_text(value) for name, value in claims.items()},
                "scopes": str(scope).split() if scope else None,
            }
        }
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": request.path,
        "rawQueryString": request.query_string.decode("latin-1"),
        "headers": headers,
        "requestContext": request_context,
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = path_parameters
    body = request.get_data()
    if body:
        if _is_text(request.content_type):
            try:
                event["body"] = body.decode("utf-8")
            except UnicodeDecodeError:
                event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
        else:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    return event


def http_response(result: Any) -> Response:
    """API Gateway's reading of a payload-2.0 function result."""
    if not (isinstance(result, dict) and "statusCode" in result):
        return Response(json.dumps(result), status=200, content_type="application/json")
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    response = Response(data, status=int(result["statusCode"]))
    response.headers.pop("Content-Type", None)
    for name, value in (result.get("headers") or {}).items():
        response.headers[name] = str(value)
    for name, values in (result.get("multiValueHeaders") or {}).items():
        for value in values:
            response.headers.add(name, str(value))
    for cookie in result.get("cookies") or []:
        response.headers.add("Set-Cookie", cookie)
    if "Content-Type" not in response.headers and data:
        response.headers["Content-Type"] = "application/json"
    return response


def error_response(status: int, code: str, message: str) -> Response:
    body = json.dumps({"error": {"code": code, "message": message}})
    return Response(body, status=status, content_type="application/json")


# -- the front -------------------------------------------------------------------------------------


class HttpFront:
    """The WSGI application: JWKS, then route → authorize → event → function → response."""

    def __init__(
        self,
        routes: list[Route],
        invoke: Invoker,
        issuer: Issuer,
        *,
        account_id: str = "123456789012",
        info: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.routes = sorted(routes, key=lambda route: route.rank)
        self.info = info
        """What ``GET /_localcloud/info`` answers (operator tools find moto and the names there)."""
        self.invoke = invoke
        self.issuer = issuer
        self.account_id = account_id

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, request: Request) -> Response:
        if request.path == "/.well-known/jwks.json" and request.method == "GET":
            return Response(json.dumps(self.issuer.jwks()), content_type="application/json")
        if request.path == "/_localcloud/info" and request.method == "GET" and self.info:
            return Response(json.dumps(self.info()), content_type="application/json")
        request_id = str(uuid.uuid4())
        response = self._route(request, request_id)
        response.headers["apigw-requestid"] = request_id
        return response

    def _route(self, request: Request, request_id: str) -> Response:
        candidates = [
            (route, parameters)
            for route in self.routes
            if (parameters := route.match(request.method, request.path)) is not None
        ]
        if not candidates:
            return error_response(404, "not_found", f"no route for {request.method} {request.path}")
        route, parameters = candidates[0]
        if (request.content_length or 0) > MAX_PAYLOAD_BYTES:
            return error_response(413, "payload_too_large", "Request Entity Too Large")
        claims = None
        if route.authorizer is not None:
            try:
                claims = self._authorize(request, route)
            except InvalidToken as error:
                return error_response(401, "unauthorized", str(error))
        event = http_api_event(
            request,
            route,
            parameters,
            claims=claims,
            request_id=request_id,
            account_id=self.account_id,
        )
        outcome = self.invoke(route.function, event)
        if outcome.function_error:
            log.warning("%s failed: %s", route.function, outcome.payload[:2000])
            return error_response(500, "internal_error", "Internal Server Error")
        try:
            result = json.loads(outcome.payload) if outcome.payload else None
        except ValueError:
            return error_response(502, "bad_gateway", "the function's response is not JSON")
        return http_response(result)

    def _authorize(self, request: Request, route: Route) -> dict[str, Any]:
        authorizer = route.authorizer
        assert authorizer is not None
        presented = request.headers.get(authorizer.header, "").strip()
        if not presented:
            raise InvalidToken(f"missing {authorizer.header} header")
        token = presented[7:].strip() if presented.lower().startswith("bearer ") else presented
        claims = self.issuer.verify(token, issuer=authorizer.issuer, audience=authorizer.audience)
        granted = set(str(claims.get("scope", "")).split())
        if route.scopes and not granted & set(route.scopes):
            raise InvalidToken("the token lacks a scope this route requires")
        return claims
