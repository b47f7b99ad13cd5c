"""provision() builds a template's resources on moto; references resolve to their local names."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localcloud.provision import (
    NO_VALUE,
    Resources,
    UnresolvableReference,
    function_environment,
    plan,
    policy_for_transport,
    provision,
)
from localcloud.template import load_template, parse_template

TEMPLATE = """
AWSTemplateFormatVersion: 2010-09-09
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: dev}
  BankApiUrl: {Type: String, Default: https://bank.partner.invalid}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
Globals:
  Function:
    Runtime: python3.13
    Handler: app.handler
    Timeout: 7
    Environment:
      Variables:
        TABLE_NAME: !Ref Table
        STAGE: !Ref Stage
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: PK, AttributeType: S}
        - {AttributeName: SK, AttributeType: S}
        - {AttributeName: GSI1PK, AttributeType: S}
        - {AttributeName: GSI1SK, AttributeType: S}
      KeySchema:
        - {AttributeName: PK, KeyType: HASH}
        - {AttributeName: SK, KeyType: RANGE}
      GlobalSecondaryIndexes:
        - IndexName: GSI1
          KeySchema:
            - {AttributeName: GSI1PK, KeyType: HASH}
            - {AttributeName: GSI1SK, KeyType: RANGE}
          Projection: {ProjectionType: ALL}
      TimeToLiveSpecification: {AttributeName: expires_at, Enabled: true}
      SSESpecification: {SSEEnabled: true}
  WorkQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 45
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt WorkDeadLetters.Arn
        maxReceiveCount: 3
  WorkDeadLetters:
    Type: AWS::SQS::Queue
    Properties:
      MessageRetentionPeriod: 1209600
  Documents:
    Type: AWS::S3::Bucket
    Properties:
      BucketEncryption:
        ServerSideEncryptionConfiguration:
          - ServerSideEncryptionByDefault: {SSEAlgorithm: aws:kms, KMSMasterKeyID: !Ref DataKey}
  DocumentsPolicy:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: !Ref Documents
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Deny
            Principal: "*"
            Action: s3:*
            Resource: !Sub "${Documents.Arn}/*"
            Condition: {Bool: {aws:SecureTransport: "false"}}
  DataKey:
    Type: AWS::KMS::Key
    Properties: {Description: data, EnableKeyRotation: true}
  SigningKey:
    Type: AWS::KMS::Key
    Properties: {KeySpec: RSA_2048, KeyUsage: SIGN_VERIFY}
  ThresholdParameter:
    Type: AWS::SSM::Parameter
    Properties: {Name: !Sub "/loanflow/${Stage}/threshold", Type: String, Value: "0.42"}
  ProdOnlyQueue:
    Type: AWS::SQS::Queue
    Condition: IsProd
  ScoreFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/score/
      Environment:
        Variables:
          WORK_QUEUE_URL: !Ref WorkQueue
          WORK_QUEUE_NAME: !GetAtt WorkQueue.QueueName
          DLQ_ARN: !GetAtt WorkDeadLetters.Arn
          BANK_API_URL: !Ref BankApiUrl
          SIGNING_KEY_ID: !Ref SigningKey
          MAYBE: !If [IsProd, "yes", !Ref AWS::NoValue]
  Workflow:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: statemachine/workflow.asl.json
      DefinitionSubstitutions:
        ScoreFunctionArn: !GetAtt ScoreFunction.Arn
        TableName: !Ref Table
  NightlyRule:
    Type: AWS::Events::Rule
    Properties:
      ScheduleExpression: rate(5 minutes)
      Targets: [{Id: score, Arn: !GetAtt ScoreFunction.Arn}]
  PayoutSchedule:
    Type: AWS::Scheduler::Schedule
    Properties:
      ScheduleExpression: rate(10 minutes)
      FlexibleTimeWindow: {Mode: "OFF"}
      Target: {Arn: !GetAtt ScoreFunction.Arn, RoleArn: !GetAtt ScoreFunctionRole.Arn}
  Api:
    Type: AWS::Serverless::HttpApi
"""

DEFINITION = {
    "StartAt": "Score",
    "States": {
        "Score": {"Type": "Task", "Resource": "${ScoreFunctionArn}", "Next": "Save"},
        "Save": {
            "Type": "Task",
            "Resource": "arn:aws:states:::dynamodb:putItem",
            "Parameters": {"TableName": "${TableName}", "Item": {"PK": {"S.$": "$.id"}}},
            "End": True,
        },
    },
}


@pytest.fixture
def template_dir(tmp_path: Path) -> Path:
    (tmp_path / "statemachine").mkdir()
    (tmp_path / "statemachine" / "workflow.asl.json").write_text(json.dumps(DEFINITION))
    return tmp_path


@pytest.fixture
def created(template_dir: Path) -> Iterator[Resources]:
    with mock_aws():
        yield provision(parse_template(TEMPLATE), base_dir=template_dir, register_functions=True)


def test_table_has_its_keys_indexes_and_ttl(created: Resources) -> None:
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")

    table = dynamodb.describe_table(TableName="loanflow-Table")["Table"]
    ttl = dynamodb.describe_time_to_live(TableName="loanflow-Table")["TimeToLiveDescription"]

    assert [key["AttributeName"] for key in table["KeySchema"]] == ["PK", "SK"]
    assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == ["GSI1"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


def test_queue_redrives_to_its_dead_letter_queue(created: Resources) -> None:
    sqs = boto3.client("sqs", region_name="us-east-1")

    attributes = sqs.get_queue_attributes(
        QueueUrl=created.queue_urls["WorkQueue"], AttributeNames=["All"]
    )["Attributes"]

    assert attributes["VisibilityTimeout"] == "45"
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:loanflow-WorkDeadLetters",
        "maxReceiveCount": 3,
    }


def test_queue_dlq_after_max_receive_count(created: Resources) -> None:
    # given a message that nobody deletes
    sqs = boto3.client("sqs", region_name="us-east-1")
    url, dlq = created.queue_urls["WorkQueue"], created.queue_urls["WorkDeadLetters"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "0"})
    sqs.send_message(QueueUrl=url, MessageBody="poison")

    # when it is received more than maxReceiveCount times
    for _ in range(4):
        sqs.receive_message(QueueUrl=url)

    # then it sits in the dead-letter queue
    moved = sqs.receive_message(QueueUrl=dlq)["Messages"]
    assert [message["Body"] for message in moved] == ["poison"]


def test_bucket_is_encrypted_with_the_key_and_has_its_policy(created: Resources) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    bucket = created.names["Documents"]

    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])

    assert bucket == "loanflow-documents"
    assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == created.names["DataKey"]
    assert policy["Statement"][0]["Resource"] == "arn:aws:s3:::loanflow-documents/*"


def test_asymmetric_signing_key_signs(created: Resources) -> None:
    kms = boto3.client("kms", region_name="us-east-1")

    signature = kms.sign(
        KeyId=created.ref("SigningKey"),
        Message=b"contract",
        SigningAlgorithm="RSASSA_PKCS1_V1_5_SHA_256",
    )["Signature"]

    assert created.arns["SigningKey"].endswith(created.ref("SigningKey"))
    assert kms.verify(
        KeyId=created.arns["SigningKey"],
        Message=b"contract",
        Signature=signature,
        SigningAlgorithm="RSASSA_PKCS1_V1_5_SHA_256",
    )["SignatureValid"]


def test_parameter_is_stored_under_its_resolved_name(created: Resources) -> None:
    ssm = boto3.client("ssm", region_name="us-east-1")

    value = ssm.get_parameter(Name="/loanflow/dev/threshold")["Parameter"]["Value"]

    assert value == "0.42"
    assert created.get_att("ThresholdParameter", "Value") == "0.42"


def test_resource_whose_condition_is_false_is_not_created(created: Resources) -> None:
    assert "ProdOnlyQueue" not in created.names
    with pytest.raises(UnresolvableReference):
        created.ref("ProdOnlyQueue")


def test_state_machine_definition_has_its_substitutions(created: Resources) -> None:
    sfn = boto3.client("stepfunctions", region_name="us-east-1")

    described = sfn.describe_state_machine(stateMachineArn=created.ref("Workflow"))
    definition = json.loads(described["definition"])

    assert created.ref("Workflow") == (
        "arn:aws:states:us-east-1:123456789012:stateMachine:loanflow-Workflow"
    )
    assert definition["States"]["Score"]["Resource"] == (
        "arn:aws:lambda:us-east-1:123456789012:function:loanflow-ScoreFunction"
    )
    assert definition["States"]["Save"]["Parameters"]["TableName"] == "loanflow-Table"


def test_functions_are_registered_with_lambda(created: Resources) -> None:
    lam = boto3.client("lambda", region_name="us-east-1")

    config = lam.get_function(FunctionName="loanflow-ScoreFunction")["Configuration"]

    assert config["FunctionArn"] == created.get_att("ScoreFunction", "Arn")
    assert config["Timeout"] == 7
    assert config["Environment"]["Variables"]["TABLE_NAME"] == "loanflow-Table"


def test_schedules_and_rules_exist(created: Resources) -> None:
    rules = boto3.client("events", region_name="us-east-1").list_rules()["Rules"]
    schedules = boto3.client("scheduler", region_name="us-east-1").list_schedules()["Schedules"]

    assert [(rule["Name"], rule["ScheduleExpression"]) for rule in rules] == [
        ("loanflow-NightlyRule", "rate(5 minutes)")
    ]
    assert [schedule["Name"] for schedule in schedules] == ["loanflow-PayoutSchedule"]


def test_function_environment_resolves_globals_and_its_own_variables(created: Resources) -> None:
    environment = function_environment(parse_template(TEMPLATE), "ScoreFunction", created)

    assert environment == {
        "TABLE_NAME": "loanflow-Table",
        "STAGE": "dev",
        "WORK_QUEUE_URL": created.queue_urls["WorkQueue"],
        "WORK_QUEUE_NAME": "loanflow-WorkQueue",
        "DLQ_ARN": "arn:aws:sqs:us-east-1:123456789012:loanflow-WorkDeadLetters",
        "BANK_API_URL": "https://bank.partner.invalid",
        "SIGNING_KEY_ID": created.ref("SigningKey"),
    }


def test_parameters_override_defaults(template_dir: Path) -> None:
    with mock_aws():
        created = provision(
            parse_template(TEMPLATE),
            base_dir=template_dir,
            parameters={"BankApiUrl": "http://127.0.0.1:9999"},
            register_functions=False,
        )
        environment = function_environment(parse_template(TEMPLATE), "ScoreFunction", created)

    assert environment["BANK_API_URL"] == "http://127.0.0.1:9999"


def test_resolve_handles_sub_join_select_and_conditions() -> None:
    resources = plan(parse_template(TEMPLATE), parameters={"Stage": "prod"})

    assert resources.resolve({"Fn::Sub": ["${A}-${AWS::Region}", {"A": "x"}]}) == "x-us-east-1"
    assert resources.resolve({"Fn::Sub": "${!Literal}-${Table.Arn}"}) == (
        "${Literal}-arn:aws:dynamodb:us-east-1:123456789012:table/loanflow-Table"
    )
    assert resources.resolve({"Fn::Join": [":", ["a", {"Ref": "Stage"}]]}) == "a:prod"
    assert resources.resolve({"Fn::Select": [1, {"Fn::Split": [",", "a,b"]}]}) == "b"
    assert resources.resolve({"Fn::If": ["IsProd", "big", "small"]}) == "big"
    assert resources.resolve([{"Ref": "AWS::NoValue"}, 1]) == [1]
    assert resources.resolve({"Ref": "AWS::NoValue"}) is None
    assert resources.ref("AWS::NoValue") is NO_VALUE
    assert "ProdOnlyQueue" in resources.names


def test_unknown_reference_is_reported_clearly() -> None:
    resources = plan(parse_template(TEMPLATE))

    with pytest.raises(UnresolvableReference, match="Missing"):
        resources.resolve({"Fn::GetAtt": ["Missing", "Arn"]})
    with pytest.raises(UnresolvableReference, match="unknown attribute"):
        resources.resolve({"Fn::GetAtt": ["Table", "Nope"]})


def test_types_moto_cannot_host_still_resolve() -> None:
    resources = plan(parse_template(TEMPLATE))

    assert resources.ref("Api") == "api"
    assert (
        resources.get_att("Api", "ApiEndpoint") == "https://api.execute-api.us-east-1.amazonaws.com"
    )
    assert resources.get_att("ScoreFunctionRole", "Arn") == (
        "arn:aws:iam::123456789012:role/loanflow-ScoreFunctionRole"
    )


def test_repository_template_provisions_every_hosted_resource() -> None:
    template: dict[str, Any] = load_template()
    with mock_aws():
        created = provision(template)
        tables = boto3.client("dynamodb", region_name="us-east-1").list_tables()["TableNames"]

    declared_tables = [
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::DynamoDB::Table"
    ]
    assert sorted(tables) == sorted(created.names[logical_id] for logical_id in declared_tables)


TLS_ONLY = {
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": "*",
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}
READ = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}


def test_tls_only_statements_are_left_out_over_plain_http_only() -> None:
    policy = {"Version": "2012-10-17", "Statement": [TLS_ONLY, READ]}

    assert policy_for_transport(policy, secure=True) == policy
    assert policy_for_transport(policy, secure=False) == {
        "Version": "2012-10-17",
        "Statement": [READ],
    }
    assert policy_for_transport({"Statement": TLS_ONLY}, secure=False) is None
