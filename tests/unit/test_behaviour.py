"""Velocity counters (1 h / 24 h windows, idempotent per application) and device/IP consistency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest

from loanflow.behaviour import BehaviourStore, assess, network_of

T0 = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


@pytest.fixture
def store(resources):
    return BehaviourStore(boto3.resource("dynamodb").Table(resources.names["LoanflowTable"]))


def tokens(device="dev-1", ip="203.0.113.7", id_hash="id-h"):
    return {"ID": id_hash, "PHONE": "ph-h", "DEVICE": device, "IP": ip}


def test_a_first_application_has_no_prior_velocity(store):
    signals = assess(store, "app_1", tokens(), "203.0.113.7", T0)

    assert signals.features() == {
        "velocity_id_24h": 0,
        "velocity_phone_24h": 0,
        "velocity_device_24h": 0,
        "velocity_ip_1h": 0,
        "device_ip_mismatch": 0,
    }


def test_windows_count_earlier_applications_and_forget_old_ones(store):
    assess(store, "app_1", tokens(), "203.0.113.7", T0 - timedelta(hours=30))  # outside 24 h
    assess(store, "app_2", tokens(), "203.0.113.7", T0 - timedelta(hours=5))  # inside 24 h only
    assess(store, "app_3", tokens(), "203.0.113.7", T0 - timedelta(minutes=20))  # inside 1 h

    signals = assess(store, "app_4", tokens(), "203.0.113.7", T0)

    assert signals.velocity["ID"].last_24h == 2
    assert signals.velocity["IP"].last_1h == 1


def test_a_retried_task_does_not_count_twice(store):
    assess(store, "app_1", tokens(), "203.0.113.7", T0)
    again = assess(store, "app_1", tokens(), "203.0.113.7", T0)

    assert again.velocity["ID"].last_24h == 0


def test_counters_expire_through_the_table_ttl(store):
    assess(store, "app_1", tokens(), "203.0.113.7", T0)

    items = store.table.scan()["Items"]

    counters = [i for i in items if str(i["SK"]).startswith("B#")]
    assert counters
    assert all(int(i["expires_at"]) <= T0.timestamp() + 25 * 3600 for i in counters)


def test_a_device_that_changes_network_within_a_day_is_a_mismatch(store):
    assess(store, "app_1", tokens(id_hash="a"), "203.0.113.7", T0 - timedelta(hours=2))

    same_network = assess(store, "app_2", tokens(id_hash="b"), "203.0.55.1", T0)
    other_network = assess(store, "app_3", tokens(id_hash="c"), "198.51.100.9", T0)

    assert same_network.device_ip_mismatch is False
    assert other_network.device_ip_mismatch is True


def test_networks_are_compared_by_prefix():
    assert network_of("203.0.113.7") == "203.0.0.0/16"
    assert network_of("2001:db8:1:2::5") == "2001:db8::/32"
