"""Behaviour: how often these identities applied recently, and whether device and network agree.

Velocity counters are DynamoDB atomic counters in 10-minute buckets, one item per identity and
bucket (``PK = VEL#<dimension>#<token>``, ``SK = B#<bucket start, epoch s>``), expiring through the
table's TTL a day after their bucket. The 1 h and 24 h windows are the sums of the last 6 and 144
buckets (one Query each identity). Counting is idempotent per application: each increment is a
transaction with a marker item (``SK = APP#<application id>``) that a retried task cannot write
twice. Identities: the keyed hashes of the ID number and phone, the device id and the IP address.

Device/IP consistency: each device remembers the network it last applied from; a device that moves
to another network (IPv4 /16, IPv6 /32) within a day is a mismatch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from ipaddress import IPv4Address, ip_address, ip_network
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

BUCKET_SECONDS = 600
WINDOW_1H = 3600
WINDOW_24H = 86400
COUNTER_TTL_SECONDS = WINDOW_24H + 3600
DIMENSIONS = ("ID", "PHONE", "DEVICE", "IP")


def bucket_start(at: datetime) -> int:
    epoch = int(at.timestamp())
    return epoch - epoch % BUCKET_SECONDS


def network_of(ip: str) -> str:
    address = ip_address(ip)
    prefix = 16 if isinstance(address, IPv4Address) else 32
    return str(ip_network(f"{address}/{prefix}", strict=False))


@dataclass(frozen=True)
class Velocity:
    last_1h: int
    last_24h: int


@dataclass(frozen=True)
class BehaviourSignals:
    velocity: dict[str, Velocity]
    device_ip_mismatch: bool

    def features(self) -> dict[str, int]:
        """Model features: applications *before* this one in each window."""
        return {
            "velocity_id_24h": self.velocity["ID"].last_24h,
            "velocity_phone_24h": self.velocity["PHONE"].last_24h,
            "velocity_device_24h": self.velocity["DEVICE"].last_24h,
            "velocity_ip_1h": self.velocity["IP"].last_1h,
            "device_ip_mismatch": int(self.device_ip_mismatch),
        }


class BehaviourStore:
    def __init__(self, table: Any) -> None:
        self.table = table
        self.client = table.meta.client  # the resource's client: plain Python values

    def record(self, application_id: str, tokens: dict[str, str], at: datetime) -> None:
        """Count this application once in each identity's bucket (a retry counts nothing)."""
        bucket = bucket_start(at)
        expires = bucket + COUNTER_TTL_SECONDS
        items: list[dict[str, Any]] = []
        for dimension, token in tokens.items():
            pk = f"VEL#{dimension}#{token}"
            items.append(
                {
                    "Put": {
                        "TableName": self.table.name,
                        "Item": {"PK": pk, "SK": f"APP#{application_id}", "expires_at": expires},
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                }
            )
            items.append(
                {
                    "Update": {
                        "TableName": self.table.name,
                        "Key": {"PK": pk, "SK": f"B#{bucket:012d}"},
                        "UpdateExpression": "ADD #c :one SET expires_at = :exp",
                        "ExpressionAttributeNames": {"#c": "count"},
                        "ExpressionAttributeValues": {":one": 1, ":exp": expires},
                    }
                }
            )
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = exc.response.get("CancellationReasons", [])
            if not any(r.get("Code") == "ConditionalCheckFailed" for r in reasons):
                raise
            # Already counted by an earlier attempt of the same task.

    def velocity(self, dimension: str, token: str, at: datetime) -> Velocity:
        now_bucket = bucket_start(at)
        since_24h = now_bucket - WINDOW_24H + BUCKET_SECONDS
        since_1h = now_bucket - WINDOW_1H + BUCKET_SECONDS
        answer = self.table.query(
            KeyConditionExpression=Key("PK").eq(f"VEL#{dimension}#{token}")
            & Key("SK").between(f"B#{since_24h:012d}", f"B#{now_bucket:012d}"),
            ConsistentRead=True,
        )
        last_24h = last_1h = 0
        for item in answer.get("Items", []):
            count = int(item["count"])
            last_24h += count
            if int(str(item["SK"])[2:]) >= since_1h:
                last_1h += count
        return Velocity(last_1h=last_1h, last_24h=last_24h)

    def device_moved(self, device_id: str, ip: str, at: datetime) -> bool:
        """True when the device applied from another network within 24 h; remembers this one."""
        key = {"PK": f"DEVICE#{device_id}", "SK": "LAST_NETWORK"}
        network = network_of(ip)
        previous = self.table.get_item(Key=key, ConsistentRead=True).get("Item")
        self.table.put_item(
            Item={
                **key,
                "network": network,
                "seen_at": int(at.timestamp()),
                "expires_at": int((at + timedelta(days=1)).timestamp()),
            }
        )
        if previous is None or int(previous["seen_at"]) < at.timestamp() - WINDOW_24H:
            return False
        return str(previous["network"]) != network


def assess(
    store: BehaviourStore,
    application_id: str,
    tokens: dict[str, str],
    ip: str,
    at: datetime,
) -> BehaviourSignals:
    """Count this application, then read each identity's windows (minus this application)."""
    store.record(application_id, tokens, at)
    velocity = {}
    for dimension, token in tokens.items():
        v = store.velocity(dimension, token, at)
        velocity[dimension] = Velocity(max(0, v.last_1h - 1), max(0, v.last_24h - 1))
    moved = store.device_moved(tokens["DEVICE"], ip, at)
    return BehaviourSignals(velocity=velocity, device_ip_mismatch=moved)
