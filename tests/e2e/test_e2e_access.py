"""Who may call what, on the local cloud: every route behind the JWT authorizer refuses a missing or
bad token with a JSON 401; another user's application, document, contract or loan is a 404 that
reads exactly like an unknown id; the ops routes need the ops group.

The routes come from template.yaml itself, so a route added there is covered without editing this
file.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from loanflow.ids import new_id
from localcloud.auth import Issuer
from localcloud.cloud import LocalCloud
from localcloud.demo import Driver, Journey
from localcloud.template import load_template
from tests.e2e.conftest import Api
from tests.support.identities import application_body

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

OWNER = "user-access-owner"
STRANGER = "user-access-stranger"


@dataclass(frozen=True)
class TemplateRoute:
    method: str
    path: str

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    def concrete(self) -> str:
        """The path with every ``{parameter}`` replaced by an id nobody owns."""
        return re.sub(r"\{[^}]+\}", new_id("unknown"), self.path)


def _protected_routes() -> list[TemplateRoute]:
    """Every HttpApi event in template.yaml whose API has a default authorizer it does not opt out of."""
    resources: dict[str, Any] = load_template()["Resources"]
    routes: set[TemplateRoute] = set()
    for resource in resources.values():
        for event in ((resource.get("Properties") or {}).get("Events") or {}).values():
            if event.get("Type") != "HttpApi":
                continue
            properties = event["Properties"]
            api = resources[properties["ApiId"]["Ref"]]["Properties"]
            default = (api.get("Auth") or {}).get("DefaultAuthorizer")
            chosen = (properties.get("Auth") or {}).get("Authorizer", default)
            if chosen not in (None, "NONE"):
                routes.add(TemplateRoute(properties["Method"].upper(), properties["Path"]))
    return sorted(routes, key=str)


PROTECTED = _protected_routes()

BadToken = Callable[[Issuer], dict[str, str]]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _foreign_key(issuer: Issuer) -> dict[str, str]:
    # Same issuer, audience and key id as the trusted key, signed with another private key.
    impostor = Issuer.generate(issuer.issuer, issuer.audience)
    return _bearer(
        Issuer(issuer.issuer, issuer.audience, issuer.kid, impostor.private_key).mint(OWNER)
    )


BAD_TOKENS: dict[str, BadToken] = {
    "no token": lambda issuer: {},
    "malformed token": lambda issuer: _bearer("not.a.jwt"),
    "not a bearer": lambda issuer: {"Authorization": "Basic dXNlcjpwYXNz"},
    "expired token": lambda issuer: _bearer(
        issuer.mint(OWNER, ttl_s=60, issued_at=int(time.time()) - 3600)
    ),
    "wrong issuer": lambda issuer: _bearer(issuer.mint(OWNER, iss="https://issuer.example.com")),
    "wrong audience": lambda issuer: _bearer(issuer.mint(OWNER, aud="another-app-client")),
    "foreign signing key": _foreign_key,
}


def test_the_template_has_protected_routes() -> None:
    # given the template read as the test reads it, then the authorizer covers the product routes
    names = {str(route) for route in PROTECTED}
    assert {"GET /applications/{id}", "GET /loans/{id}", "GET /reviews"} <= names
    assert "GET /openapi.json" not in names


def test_every_protected_route_refuses_every_bad_token(api: Api, local_cloud: LocalCloud) -> None:
    assert local_cloud.issuer is not None
    refused_wrongly: list[str] = []
    for route in PROTECTED:
        for name, bad in BAD_TOKENS.items():
            response = api.session.request(
                route.method,
                local_cloud.url + route.concrete(),
                json={},
                headers=bad(local_cloud.issuer),
                timeout=30,
            )
            error = _error_of(response)
            if response.status_code != 401 or error.get("code") != "unauthorized":
                refused_wrongly.append(
                    f"{route} with {name}: {response.status_code} {response.text}"
                )

    assert not refused_wrongly, "\n".join(refused_wrongly)


def test_a_good_token_passes_the_authorizer(api: Api) -> None:
    # the control for the test above: the same client with a valid token is let in
    assert api.call("GET", "/applications", user=OWNER).status_code == 200


# -- other users' things --------------------------------------------------------------------------


@dataclass(frozen=True)
class OwnerThings:
    owner: str
    application_id: str
    document_id: str
    loan_id: str


@pytest.fixture(scope="module")
def owner_things(api: Api, local_cloud: LocalCloud) -> OwnerThings:
    """The owner's funded application (so it has a contract and a loan) and an uploaded-for document."""
    driver = Driver(local_cloud.url, local_cloud.token, poll_s=0.2)
    journey: Journey = driver.run(8001, "access", application_body(amount="3000.00"))
    assert journey.error is None, journey
    assert journey.application_id, journey
    application = api.call("GET", f"/applications/{journey.application_id}", user=journey.user)
    loan_id = application.json().get("loan_id")
    assert loan_id, f"the owner's application ended {journey.status} without a loan"
    document = api.call(
        "POST",
        "/documents",
        user=journey.user,
        body={"type": "id_card_front", "content_type": "image/jpeg"},
    )
    assert document.status_code == 201, document.text
    return OwnerThings(
        journey.user, journey.application_id, document.json()["document_id"], loan_id
    )


def _error_of(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _same_as_unknown(
    stranger: requests.Response, unknown: requests.Response, ids: tuple[str, str]
) -> None:
    """Both 404, with bodies that differ only by the id asked for (no existence leak)."""
    assert stranger.status_code == unknown.status_code == 404, (stranger.text, unknown.text)
    known_id, unknown_id = ids
    assert stranger.text.replace(known_id, "<id>") == unknown.text.replace(unknown_id, "<id>")
    assert _error_of(stranger)["code"]


def test_another_users_application_is_not_found(api: Api, owner_things: OwnerThings) -> None:
    unknown_id = new_id("app")
    for suffix in ("", "/contract"):
        stranger = api.call(
            "GET", f"/applications/{owner_things.application_id}{suffix}", user=STRANGER
        )
        unknown = api.call("GET", f"/applications/{unknown_id}{suffix}", user=STRANGER)

        _same_as_unknown(stranger, unknown, (owner_things.application_id, unknown_id))


def test_another_user_cannot_sign_or_submit_it(api: Api, owner_things: OwnerThings) -> None:
    unknown_id = new_id("app")
    for suffix, body in (("/contract/sign", {"consent": True}), ("/submit", None)):
        stranger = api.call(
            "POST", f"/applications/{owner_things.application_id}{suffix}", user=STRANGER, body=body
        )
        unknown = api.call("POST", f"/applications/{unknown_id}{suffix}", user=STRANGER, body=body)

        _same_as_unknown(stranger, unknown, (owner_things.application_id, unknown_id))


def test_another_users_loan_is_not_found(api: Api, owner_things: OwnerThings) -> None:
    unknown_id = new_id("loan")

    stranger = api.call("GET", f"/loans/{owner_things.loan_id}", user=STRANGER)
    unknown = api.call("GET", f"/loans/{unknown_id}", user=STRANGER)

    _same_as_unknown(stranger, unknown, (owner_things.loan_id, unknown_id))


def test_another_users_document_is_not_found(api: Api, owner_things: OwnerThings) -> None:
    own_draft = api.create(user=STRANGER)["id"]
    unknown_id = new_id("doc")

    def attach(document_id: str) -> requests.Response:
        return api.call(
            "POST",
            f"/applications/{own_draft}/documents",
            user=STRANGER,
            body={"document_id": document_id},
        )

    def autofill(document_id: str) -> requests.Response:
        return api.call("POST", "/autofill", user=STRANGER, body={"document_ids": [document_id]})

    for use in (attach, autofill):
        _same_as_unknown(
            use(owner_things.document_id), use(unknown_id), (owner_things.document_id, unknown_id)
        )


def test_the_owner_still_sees_everything(api: Api, owner_things: OwnerThings) -> None:
    # the control: the 404s above come from ownership, not from ids that do not exist
    for path in (
        f"/applications/{owner_things.application_id}",
        f"/applications/{owner_things.application_id}/contract",
        f"/loans/{owner_things.loan_id}",
    ):
        assert api.call("GET", path, user=owner_things.owner).status_code == 200, path


# -- ops routes -----------------------------------------------------------------------------------


def test_ops_routes_need_the_ops_group(api: Api, owner_things: OwnerThings) -> None:
    listed = api.call("GET", "/reviews", user=STRANGER, groups=("customers",))
    decided = api.call(
        "POST",
        f"/reviews/{owner_things.application_id}",
        user=STRANGER,
        body={"decision": "approve", "note": "let me in"},
    )

    assert listed.status_code == decided.status_code == 403, (listed.text, decided.text)
    assert _error_of(listed)["code"] == _error_of(decided)["code"] == "forbidden"
    assert api.call("GET", "/reviews", user="ops-access", groups=("ops",)).status_code == 200
