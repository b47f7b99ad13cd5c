"""template.yaml is read with CloudFormation's short tags turned into their long forms."""

from __future__ import annotations

from localcloud.template import TEMPLATE_PATH, load_template, parse_template


def test_ref_and_condition_become_their_long_forms() -> None:
    doc = parse_template("A: !Ref Table\nB: !Condition IsProd\n")

    assert doc == {"A": {"Ref": "Table"}, "B": {"Condition": "IsProd"}}


def test_getatt_dotted_and_list_forms_become_a_pair() -> None:
    doc = parse_template("A: !GetAtt Queue.Arn\nB: !GetAtt [Queue, QueueName]\n")

    assert doc["A"] == {"Fn::GetAtt": ["Queue", "Arn"]}
    assert doc["B"] == {"Fn::GetAtt": ["Queue", "QueueName"]}


def test_function_tags_keep_scalar_sequence_and_mapping_arguments() -> None:
    text = """
    Sub: !Sub "arn:${AWS::Partition}:s3:::${Bucket}/*"
    SubList: !Sub ["${X}-y", {X: !Ref Stage}]
    If: !If [IsProd, !Ref A, !Ref AWS::NoValue]
    Equals: !Equals [!Ref Stage, prod]
    Not: !Not [!Equals [a, b]]
    And: !And [!Condition A, !Condition B]
    Or: !Or [!Condition A, !Condition B]
    Select: !Select [0, !Split [",", "a,b"]]
    Join: !Join ["-", [a, b]]
    FindInMap: !FindInMap [Map, Top, Second]
    ImportValue: !ImportValue shared-vpc
    Base64: !Base64 hello
    """

    doc = parse_template(text.replace("\n    ", "\n"))

    assert doc["Sub"] == {"Fn::Sub": "arn:${AWS::Partition}:s3:::${Bucket}/*"}
    assert doc["SubList"] == {"Fn::Sub": ["${X}-y", {"X": {"Ref": "Stage"}}]}
    assert doc["If"] == {"Fn::If": ["IsProd", {"Ref": "A"}, {"Ref": "AWS::NoValue"}]}
    assert doc["Equals"] == {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}
    assert doc["Not"] == {"Fn::Not": [{"Fn::Equals": ["a", "b"]}]}
    assert doc["And"] == {"Fn::And": [{"Condition": "A"}, {"Condition": "B"}]}
    assert doc["Or"] == {"Fn::Or": [{"Condition": "A"}, {"Condition": "B"}]}
    assert doc["Select"] == {"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]}
    assert doc["Join"] == {"Fn::Join": ["-", ["a", "b"]]}
    assert doc["FindInMap"] == {"Fn::FindInMap": ["Map", "Top", "Second"]}
    assert doc["ImportValue"] == {"Fn::ImportValue": "shared-vpc"}
    assert doc["Base64"] == {"Fn::Base64": "hello"}


def test_unquoted_dates_stay_strings_as_in_cloudformation() -> None:
    doc = parse_template("AWSTemplateFormatVersion: 2010-09-09\n")

    assert doc["AWSTemplateFormatVersion"] == "2010-09-09"


def test_the_repository_template_loads() -> None:
    template = load_template(TEMPLATE_PATH)

    assert template["Transform"] == "AWS::Serverless-2016-10-31"
    assert template["Resources"]
