"""The bureau client against the simulator on a local port: retries, timeouts, circuit breaker."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from loanflow.bureau import BureauClient, BureauUnavailable, CircuitBreaker, parse_report
from localcloud.bureau_sim import DEFAULT_API_KEY, credit_report, serve
from tests.support.identities import make_id_number

ID = make_id_number(datetime(1988, 5, 17).date(), sequence=421)


@pytest.fixture(scope="module")
def bureau():
    with serve(seed=1) as server:
        yield server


@pytest.fixture(autouse=True)
def healthy(bureau) -> None:
    bureau.app.failure_rate = 0.0
    bureau.app.latency_ms = 0
    bureau.app.api_key = DEFAULT_API_KEY


def client(bureau, *, key=DEFAULT_API_KEY, attempts=3, read_timeout_s=2.0, breaker=None):
    sleeps: list[float] = []
    c = BureauClient(
        base_url=bureau.url,
        api_key=lambda: key,
        breaker=breaker or CircuitBreaker(failure_threshold=3, cooldown_s=30),
        max_attempts=attempts,
        read_timeout_s=read_timeout_s,
        backoff_base_s=0.1,
        backoff_cap_s=1.0,
        sleep=sleeps.append,
        rng=random.Random(3),
    )
    return c, sleeps


def test_a_report_is_pulled_and_normalised(bureau):
    c, _ = client(bureau)

    report = c.pull(ID, "张三", reference="app_1")

    assert report == parse_report(credit_report(ID)).model_copy(
        update={"pulled_at": report.pulled_at}
    )


def test_the_same_person_always_gets_the_same_report():
    assert credit_report(ID) == credit_report(ID)
    assert credit_report(ID) != credit_report(make_id_number(datetime(1988, 5, 17).date()))


def test_outages_are_retried_with_jittered_backoff_then_reported(bureau):
    bureau.app.failure_rate = 1.0
    c, sleeps = client(bureau, attempts=3)
    calls_before = bureau.app.stats.calls

    with pytest.raises(BureauUnavailable, match="HTTP 503"):
        c.pull(ID, "张三", reference="app_1")

    assert bureau.app.stats.calls - calls_before == 3
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.1
    assert 0 <= sleeps[1] <= 0.2


def test_a_rejected_key_is_not_retried(bureau):
    c, sleeps = client(bureau, key="wrong-key")

    with pytest.raises(BureauUnavailable, match="HTTP 401"):
        c.pull(ID, "张三", reference="app_1")

    assert sleeps == []


def test_a_slow_bureau_times_out(bureau):
    bureau.app.latency_ms = 500
    c, _ = client(bureau, attempts=1, read_timeout_s=0.1)

    with pytest.raises(BureauUnavailable, match="Timeout"):
        c.pull(ID, "张三", reference="app_1")


def test_the_circuit_opens_after_repeated_failures_and_fails_fast(bureau):
    bureau.app.failure_rate = 1.0
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=2, cooldown_s=30, clock=lambda: now[0])
    c, _ = client(bureau, attempts=1, breaker=breaker)
    for _ in range(2):
        with pytest.raises(BureauUnavailable):
            c.pull(ID, "张三", reference="app_1")
    calls = bureau.app.stats.calls

    # open: no call reaches the bureau
    with pytest.raises(BureauUnavailable, match="circuit open"):
        c.pull(ID, "张三", reference="app_1")
    assert bureau.app.stats.calls == calls

    # after the cooldown one trial call goes through and closes the circuit
    bureau.app.failure_rate = 0.0
    now[0] = 31.0
    assert breaker.state == "half_open"
    c.pull(ID, "张三", reference="app_1")
    assert breaker.state == "closed"


def test_a_failed_trial_call_reopens_the_circuit():
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=5, cooldown_s=10, clock=lambda: now[0])
    for _ in range(5):
        breaker.record_failure()
    now[0] = 10.0
    assert breaker.allow()

    breaker.record_failure()

    assert breaker.state == "open"


def test_a_person_without_a_file_is_a_no_hit_report():
    report = parse_report({"report_id": "rpt_x", "hit": False})

    assert report.has_file is False
    assert report.score is None
    assert report.monthly_debt_payments == Decimal("0.00")


def test_simulated_reports_have_realistic_shapes():
    from tests.support.identities import random_identity

    rng = random.Random(5)
    reports = [credit_report(random_identity(rng)["id_number"]) for _ in range(600)]
    hits = [r for r in reports if r["hit"]]
    scores = [r["score"]["value"] for r in hits]

    assert 0.75 < len(hits) / len(reports) < 0.95
    assert 600 < sum(scores) / len(scores) < 720
    assert min(scores) >= 300
    assert max(scores) <= 900
    late = sum(1 for r in hits if r["payment_history"]["max_dpd_24m"] > 0) / len(hits)
    assert 0.05 < late < 0.35


def test_the_simulator_refuses_a_malformed_request(bureau):
    import urllib3

    http = urllib3.PoolManager()
    answer = http.request(
        "POST",
        bureau.url + "/v1/credit-reports",
        body=b'{"id_number": "123"}',
        headers={"X-Api-Key": DEFAULT_API_KEY, "Content-Type": "application/json"},
    )
    assert answer.status == 400
    assert b"invalid_id_number" in answer.data


def test_cached_reports_expire_after_their_ttl(resources):
    import boto3

    from loanflow.bureau import BureauReportCache
    from loanflow.models import BureauReport

    table = boto3.resource("dynamodb").Table(resources.names["LoanflowTable"])
    cache = BureauReportCache(table, ttl=timedelta(days=30))
    pulled = datetime(2026, 11, 1, tzinfo=UTC)
    cache.put("h1", BureauReport(report_id="r", has_file=True, score=700, pulled_at=pulled))

    assert cache.get("h1", now=pulled + timedelta(days=29)).report_id == "r"
    assert cache.get("h1", now=pulled + timedelta(days=31)) is None
    item = table.get_item(Key=cache.key("h1"))["Item"]
    assert int(item["expires_at"]) == int((pulled + timedelta(days=30)).timestamp())
