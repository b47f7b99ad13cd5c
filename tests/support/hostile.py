"""Shared by the input-robustness e2e tests: counting what was tried, and the summary they write.

``build/security/inputs.json`` holds one section per test file (``schemathesis``, ``hostile``), each
with the requests sent, how many of them were bad inputs and how many answers were 5xx; the top-level
``bad inputs tried`` and ``5xx seen`` add the sections up, so docs/security.md can quote them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
SUMMARY_PATH = ROOT / "build" / "security" / "inputs.json"
COMMAND = ".venv/bin/pytest tests/e2e/test_e2e_schemathesis.py tests/e2e/test_e2e_inputs.py -q"


@dataclass
class Tally:
    """What one test file sent and what came back."""

    requests_sent: int = 0
    bad_inputs: int = 0
    server_errors: int = 0

    def record(self, status_code: int, *, bad: bool = True) -> None:
        self.requests_sent += 1
        self.bad_inputs += int(bad)
        self.server_errors += int(status_code >= 500)


def write_summary(section: str, tally: Tally, **extra: Any) -> Path:
    """Merge ``section`` into the summary file and recompute the totals."""
    SUMMARY_PATH.parent.mkdir(parents=True, exist_ok=True)
    try:
        summary: dict[str, Any] = json.loads(SUMMARY_PATH.read_text())
    except (OSError, ValueError):
        summary = {}
    sections: dict[str, Any] = summary.get("sections", {})
    sections[section] = {**asdict(tally), **extra}
    summary = {
        "bad inputs tried": sum(s["bad_inputs"] for s in sections.values()),
        "5xx seen": sum(s["server_errors"] for s in sections.values()),
        "requests sent": sum(s["requests_sent"] for s in sections.values()),
        "command": COMMAND,
        "sections": sections,
    }
    SUMMARY_PATH.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return SUMMARY_PATH


def error_of(response: requests.Response) -> dict[str, Any]:
    """The ``error`` object of an API error answer; fails the test if the shape is not ours."""
    assert response.headers.get("Content-Type", "").startswith("application/json"), (
        response.status_code,
        response.headers,
        response.text[:300],
    )
    body = response.json()
    assert isinstance(body, dict), body
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert isinstance(error.get("code"), str), body
    assert error["code"], body
    assert isinstance(error.get("message"), str), body
    assert error["message"], body
    return error
