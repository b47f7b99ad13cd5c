"""What the local moto server changes in moto keeps DynamoDB's behaviour (tested in-process)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb import responses
from moto.dynamodb.models import DynamoDBBackend

from localcloud.motoserver import _backup_items_not_tables, _fast_dynamodb_responses, _service_of


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    # undone after the test: other tests see moto as it ships
    monkeypatch.setattr(
        DynamoDBBackend, "transact_write_items", DynamoDBBackend.transact_write_items
    )
    monkeypatch.setattr(
        responses.DynamoResult, "execute_result", responses.DynamoResult.execute_result
    )
    _backup_items_not_tables()
    _fast_dynamodb_responses()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t",
            AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        client.put_item(TableName="t", Item={"PK": {"S": "a"}, "v": {"N": "1"}})
        client.put_item(TableName="t", Item={"PK": {"S": "c"}})
        yield client


def test_a_cancelled_transaction_leaves_every_item_as_it_was(dynamodb: Any) -> None:
    client = dynamodb
    with pytest.raises(client.exceptions.TransactionCanceledException):
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "t", "Item": {"PK": {"S": "new"}}}},
                {
                    "Update": {
                        "TableName": "t",
                        "Key": {"PK": {"S": "a"}},
                        "UpdateExpression": "SET v = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": "t",
                        "Key": {"PK": {"S": "c"}},
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                },
            ]
        )

    items = client.scan(TableName="t")["Items"]
    assert sorted(items, key=str) == [{"PK": {"S": "a"}, "v": {"N": "1"}}, {"PK": {"S": "c"}}]


def test_a_successful_transaction_applies_every_write(dynamodb: Any) -> None:
    client = dynamodb
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": "t", "Item": {"PK": {"S": "b"}, "blob": {"B": b"\x00\x01"}}}},
            {
                "Update": {
                    "TableName": "t",
                    "Key": {"PK": {"S": "a"}},
                    "UpdateExpression": "SET v = :two",
                    "ExpressionAttributeValues": {":two": {"N": "2"}},
                }
            },
        ]
    )

    a = client.get_item(TableName="t", Key={"PK": {"S": "a"}})["Item"]
    b = client.get_item(TableName="t", Key={"PK": {"S": "b"}})["Item"]
    assert a == {"PK": {"S": "a"}, "v": {"N": "2"}}
    assert b == {"PK": {"S": "b"}, "blob": {"B": b"\x00\x01"}}


def test_responses_keep_their_shape(dynamodb: Any) -> None:
    client = dynamodb

    missing = client.get_item(TableName="t", Key={"PK": {"S": "nope"}})
    table = client.describe_table(TableName="t")["Table"]

    assert "Item" not in missing
    assert table["TableName"] == "t"
    assert table["CreationDateTime"].year >= 2024


@pytest.mark.parametrize(
    ("authorization", "service"),
    [
        (
            "AWS4-HMAC-SHA256 Credential=local/20261203/us-east-1/dynamodb/aws4_request, "
            "SignedHeaders=host, Signature=x",
            "dynamodb",
        ),
        ("", ""),
    ],
)
def test_the_service_of_a_request_comes_from_its_signature(authorization: str, service: str):
    assert _service_of({"HTTP_AUTHORIZATION": authorization}) == service
