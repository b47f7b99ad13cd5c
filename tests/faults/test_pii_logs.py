"""No raw ID number, bank card or phone in any log of the local cloud, whatever happened.

Runs after the fault campaign (same cloud): the logs searched are every function worker's
stdout/stderr (``logs/<Function>.log``), moto's (``logs/moto.log``) and this process's local-cloud
loggers at DEBUG (``logs/front.log``: the HTTP front, pollers, runtime) — for the journeys driven
under faults and for a few clean ones driven here (create → submit → decision → review → sign →
funded), each value also written with spaces and dashes.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from localcloud.applicants import applicants
from localcloud.cloud import LocalCloud
from localcloud.demo import Driver


def spellings(kind: str, value: str) -> set[str]:
    """The value as typed, and grouped with spaces or dashes as people and formatters write it."""
    groups = {
        "id_number": (6, 8, 4),
        "bank_card": (4, 4, 4, 4, 4),
        "phone": (3, 4, 4),
    }[kind]
    parts, start = [], 0
    for size in groups:
        if start < len(value):
            parts.append(value[start : start + size])
            start += size
    found = {value, " ".join(parts), "-".join(parts)}
    if kind == "phone":
        found |= {f"+86{value}", f"+86 {value}"}
    return found


def leaks(logs: dict[Path, str], bodies: list[dict[str, Any]]) -> list[str]:
    found = []
    for body in bodies:
        for kind in ("id_number", "bank_card", "phone"):
            for spelling in spellings(kind, str(body[kind])):
                pattern = re.compile(rf"(?<![0-9]){re.escape(spelling)}(?![0-9])")
                for path, text in logs.items():
                    if match := pattern.search(text):
                        context = text[max(0, match.start() - 120) : match.end() + 60]
                        found.append(f"{kind} in {path.name}: …{context}…")
    return found


def test_spellings_cover_the_usual_groupings() -> None:
    assert "6222 0212 3456 7890" in spellings("bank_card", "6222021234567890")
    assert "138-0013-8000" in spellings("phone", "13800138000")
    assert "110105 19900101 123X" in spellings("id_number", "11010519900101123X")
    body = {"id_number": "11010519900101123X", "bank_card": "6222021234567890", "phone": "1"}
    logs = {Path("w.log"): 'x {"card": "6222-0212-3456-7890"} 1234 11010519900101123X9'}
    assert leaks(logs, [body]) == [
        'bank_card in w.log: …x {"card": "6222-0212-3456-7890"} 1234 11010519900101123X9…'
    ]


def test_no_pii_in_any_log_of_full_journeys(
    local_cloud: LocalCloud, driven: list[dict[str, Any]], state_dir: Path
) -> None:
    if not driven:  # this module alone: drive a few full journeys first
        driver = Driver(
            local_cloud.url,
            local_cloud.token,
            poll_s=0.3,
            decision_timeout_s=40,
            funds_timeout_s=40,
        )
        people = [body for profile, body in applicants(30, seed=5) if profile == "steady"][:3]
        with ThreadPoolExecutor(max_workers=3) as pool:
            journeys = list(
                pool.map(lambda p: driver.run(100 + p[0], "steady", p[1]), enumerate(people))
            )
        assert any(j.status == "FUNDED" for j in journeys), [j.statuses for j in journeys]
        driven.extend(people)
    bodies = list(driven)

    logs = {
        path: path.read_text(encoding="utf-8", errors="replace")
        for path in sorted((state_dir / "logs").glob("*.log"))
    }
    assert len(logs) >= 10, sorted(p.name for p in logs)  # the workers', moto's and the front's
    assert sum(len(text) for text in logs.values()) > 10_000  # the logs are really there
    assert any("application_id" in text or "app_" in text for text in logs.values())
    assert leaks(logs, bodies) == []
