"""Intake over HTTP on the local cloud: create, read, list; owners only."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.conftest import Api
from tests.support.identities import application_body

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_create_then_read_my_application(api: Api) -> None:
    created = api.create(user="user-intake")

    read = api.call("GET", f"/applications/{created['id']}", user="user-intake")

    assert created["status"] == "DRAFT"
    assert read.status_code == 200
    assert read.json()["id"] == created["id"]
    assert read.json()["status"] == "DRAFT"


def test_my_list_has_my_application(api: Api) -> None:
    created = api.create(user="user-lister")

    listed = api.call("GET", "/applications", user="user-lister")

    assert listed.status_code == 200
    assert created["id"] in {item["id"] for item in listed.json()["items"]}


def test_someone_else_cannot_see_it(api: Api) -> None:
    created = api.create(user="user-owner")

    response = api.call("GET", f"/applications/{created['id']}", user="user-stranger")

    assert response.status_code == 404
    assert "error" in response.json()


def test_the_same_idempotency_key_creates_once(api: Api) -> None:
    headers = {"Idempotency-Key": f"e2e-{uuid.uuid4()}"}
    body = application_body()

    first = api.call("POST", "/applications", user="user-retry", body=body, headers=headers)
    second = api.call("POST", "/applications", user="user-retry", body=body, headers=headers)

    assert first.status_code == 201
    assert second.json()["id"] == first.json()["id"]


def test_bad_input_is_a_4xx_json_error(api: Api) -> None:
    response = api.call(
        "POST",
        "/applications",
        body=application_body(id_number="110105199001011230"),
        headers={"Idempotency-Key": f"e2e-{uuid.uuid4()}"},
    )

    assert 400 <= response.status_code < 500
    assert response.json()["error"]["code"]
