"""The HTTP front turns requests into API Gateway HTTP API (2.0) events and enforces the JWT authorizer."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import pytest
from werkzeug.test import Client

from localcloud.auth import Issuer
from localcloud.gateway import HttpFront, Route, http_api_event, http_response, http_routes
from localcloud.provision import plan
from localcloud.template import parse_template

TEMPLATE = """
Resources:
  UserPool: {Type: AWS::Cognito::UserPool}
  UserPoolClient: {Type: AWS::Cognito::UserPoolClient}
  HttpApi:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: CognitoJwt
        Authorizers:
          CognitoJwt:
            IdentitySource: $request.header.Authorization
            JwtConfiguration:
              issuer: !Sub https://cognito-idp.${AWS::Region}.amazonaws.com/${UserPool}
              audience: [!Ref UserPoolClient]
  ApiFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/api/
      Events:
        Get: {Type: HttpApi, Properties: {ApiId: !Ref HttpApi, Path: "/applications/{id}", Method: GET}}
        Mine: {Type: HttpApi, Properties: {ApiId: !Ref HttpApi, Path: /applications/mine, Method: GET}}
        Create: {Type: HttpApi, Properties: {ApiId: !Ref HttpApi, Path: /applications, Method: POST}}
        Docs:
          Type: HttpApi
          Properties: {ApiId: !Ref HttpApi, Path: /docs, Method: GET, Auth: {Authorizer: NONE}}
        Files: {Type: HttpApi, Properties: {ApiId: !Ref HttpApi, Path: "/files/{proxy+}", Method: ANY}}
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/worker/
"""
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_UserPool"


@dataclass
class Outcome:
    payload: bytes
    function_error: str | None = None


class FakeFunctions:
    """Records the events; answers what the test sets."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.answer: Outcome = Outcome(json.dumps({"statusCode": 200, "body": "{}"}).encode())

    def __call__(self, function: str, event: Any) -> Outcome:
        self.events.append((function, event))
        return self.answer


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer.generate(ISSUER, ("loanflow-UserPoolClient",))


@pytest.fixture
def functions() -> FakeFunctions:
    return FakeFunctions()


@pytest.fixture
def client(issuer: Issuer, functions: FakeFunctions) -> Client:
    template = parse_template(TEMPLATE)
    routes = http_routes(template, plan(template))
    return Client(HttpFront(routes, functions, issuer), use_cookies=False)


def bearer(issuer: Issuer, user: str = "user-1", groups: tuple[str, ...] = ()) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.mint(user, groups)}"}


def test_routes_come_from_the_http_api_events_with_their_authorizer() -> None:
    template = parse_template(TEMPLATE)

    routes = {route.route_key: route for route in http_routes(template, plan(template))}

    assert set(routes) == {
        "GET /applications/{id}",
        "GET /applications/mine",
        "POST /applications",
        "GET /docs",
        "ANY /files/{proxy+}",
    }
    assert routes["GET /docs"].authorizer is None
    authorizer = routes["POST /applications"].authorizer
    assert authorizer is not None
    assert authorizer.issuer == ISSUER
    assert authorizer.audience == ("loanflow-UserPoolClient",)
    assert routes["POST /applications"].function == "loanflow-ApiFunction"


def test_literal_path_wins_over_a_parameter(
    client: Client, issuer: Issuer, functions: FakeFunctions
) -> None:
    client.get("/applications/mine", headers=bearer(issuer))
    client.get("/applications/app_1", headers=bearer(issuer))

    assert [event["routeKey"] for _, event in functions.events] == [
        "GET /applications/mine",
        "GET /applications/{id}",
    ]
    assert functions.events[1][1]["pathParameters"] == {"id": "app_1"}


def test_greedy_path_parameter_takes_the_rest(
    client: Client, issuer: Issuer, functions: FakeFunctions
) -> None:
    client.delete("/files/a/b/c.pdf", headers=bearer(issuer))

    assert functions.events[0][1]["pathParameters"] == {"proxy": "a/b/c.pdf"}


def test_missing_token_is_401_before_any_function_runs(
    client: Client, functions: FakeFunctions
) -> None:
    response = client.post("/applications", json={})

    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert functions.events == []


@pytest.mark.parametrize(
    "authorization",
    ["Bearer nonsense", "Basic dXNlcjpwYXNz", "Bearer eyJhbGciOiJub25lIn0.e30."],
)
def test_bad_token_is_401(client: Client, functions: FakeFunctions, authorization: str) -> None:
    response = client.post("/applications", json={}, headers={"Authorization": authorization})

    assert response.status_code == 401
    assert functions.events == []


def test_expired_token_is_401(client: Client, issuer: Issuer) -> None:
    token = issuer.mint("user-1", ttl_s=1, issued_at=1_700_000_000)

    response = client.get("/applications/app_1", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401
    assert "expired" in response.json["error"]["message"]


def test_public_route_needs_no_token(client: Client, functions: FakeFunctions) -> None:
    response = client.get("/docs")

    assert response.status_code == 200
    assert "authorizer" not in functions.events[0][1]["requestContext"]


def test_unknown_route_is_404_json(client: Client) -> None:
    response = client.get("/nowhere")

    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_event_carries_claims_as_api_gateway_passes_them(
    client: Client, issuer: Issuer, functions: FakeFunctions
) -> None:
    client.post(
        "/applications?source=app&tag=a&tag=b",
        json={"amount": "5000.00"},
        headers={
            **bearer(issuer, "user-9", ("ops", "audit")),
            "X-Trace": "t1",
            "Cookie": "a=1; b=2",
        },
    )

    function, event = functions.events[0]
    assert function == "loanflow-ApiFunction"
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /applications"
    assert event["rawPath"] == "/applications"
    assert event["rawQueryString"] == "source=app&tag=a&tag=b"
    assert event["queryStringParameters"] == {"source": "app", "tag": "a,b"}
    assert event["headers"]["x-trace"] == "t1"
    assert "cookie" not in event["headers"]
    assert event["cookies"] == ["a=1", "b=2"]
    assert json.loads(event["body"]) == {"amount": "5000.00"}
    assert event["isBase64Encoded"] is False
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["requestContext"]["stage"] == "$default"
    claims = event["requestContext"]["authorizer"]["jwt"]["claims"]
    assert claims["sub"] == "user-9"
    assert claims["cognito:groups"] == "[ops audit]"
    assert all(isinstance(value, str) for value in claims.values())


def test_binary_body_arrives_base64_encoded(issuer: Issuer) -> None:
    from werkzeug.test import EnvironBuilder

    request = EnvironBuilder(
        path="/files/x", method="PUT", data=b"\x89PNG\x00", content_type="image/png"
    ).get_request()
    route = Route("ANY", "/files/{proxy+}", "fn")

    event = http_api_event(request, route, {"proxy": "x"})

    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x89PNG\x00"


def test_function_response_is_mapped_back(
    client: Client, issuer: Issuer, functions: FakeFunctions
) -> None:
    functions.answer = Outcome(
        json.dumps(
            {
                "statusCode": 201,
                "headers": {"Content-Type": "application/json", "Location": "/applications/x"},
                "cookies": ["s=1; HttpOnly"],
                "body": '{"id": "x"}',
            }
        ).encode()
    )

    response = client.post("/applications", json={}, headers=bearer(issuer))

    assert response.status_code == 201
    assert response.headers["Location"] == "/applications/x"
    assert response.headers.getlist("Set-Cookie") == ["s=1; HttpOnly"]
    assert response.json == {"id": "x"}


def test_plain_result_becomes_a_200_json_body() -> None:
    response = http_response({"hello": "world"})

    assert response.status_code == 200
    assert json.loads(response.get_data()) == {"hello": "world"}


def test_base64_result_is_decoded() -> None:
    response = http_response(
        {"statusCode": 200, "body": base64.b64encode(b"%PDF").decode(), "isBase64Encoded": True}
    )

    assert response.get_data() == b"%PDF"


def test_function_error_is_a_500_json(
    client: Client, issuer: Issuer, functions: FakeFunctions
) -> None:
    functions.answer = Outcome(b'{"errorType": "KeyError", "errorMessage": "x"}', "Unhandled")

    response = client.get("/applications/app_1", headers=bearer(issuer))

    assert response.status_code == 500
    assert response.json["error"]["code"] == "internal_error"


def test_jwks_is_served(client: Client, issuer: Issuer) -> None:
    response = client.get("/.well-known/jwks.json")

    assert response.json == issuer.jwks()
