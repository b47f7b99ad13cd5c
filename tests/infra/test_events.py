"""events/: a sample event for every function and trigger, as `sam local invoke -e` takes them."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

from tests.conftest import template

EVENTS = Path(__file__).resolve().parents[2] / "events"


def test_every_function_has_a_sample_event() -> None:
    names = {p.stem for p in EVENTS.glob("*.json")}
    for logical_id, resource in template()["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        directory = PurePosixPath(str(resource["Properties"]["CodeUri"])).name
        assert any(n == directory or n.startswith(f"{directory}_") for n in names), (
            f"{logical_id}: add events/{directory}.json"
        )


def test_every_sample_event_is_a_json_object() -> None:
    for path in EVENTS.glob("*.json"):
        assert isinstance(json.loads(path.read_text()), dict), path.name


def test_api_events_are_http_api_v2_with_jwt_claims() -> None:
    for path in EVENTS.glob("api_*.json"):
        event = json.loads(path.read_text())
        assert event["version"] == "2.0", path.name
        assert event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"], path.name
