"""Create the resources that template.yaml declares, on whatever AWS endpoint boto3 is aimed at.

In tests that is moto's in-process ``mock_aws``; in ``loanflow local up`` it is the moto server,
reached through ``AWS_ENDPOINT_URL``. Physical names are deterministic (``loanflow-<LogicalId>``
unless the template names the resource), so names and ARNs are known before anything exists.
Resource types moto cannot host (API Gateway, Cognito, alarms, ...) still get a name and an ARN, so
that references to them resolve, but nothing is created for them.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import os
import re
import secrets
import string
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from localcloud.template import ROOT

log = logging.getLogger(__name__)

ACCOUNT_ID = "123456789012"
STACK_NAME = "loanflow"
NO_VALUE = object()
"""What ``!Ref AWS::NoValue`` resolves to; dropped from the mapping or list that holds it."""

_SUB_VARIABLE = re.compile(r"\$\{(!?)([^}]*)\}")


class ProvisionError(RuntimeError):
    """A resource of the template could not be created; the message names it."""


class UnresolvableReference(KeyError):
    """A ``!Ref``/``!GetAtt``/``${...}`` that names nothing in the template."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class _Kind:
    """How CloudFormation names a resource type and what ``!Ref`` returns for it."""

    name_property: str | None
    arn: str
    ref: str = "name"  # name | arn | url | id
    lowercase: bool = False


_KINDS: dict[str, _Kind] = {
    "AWS::DynamoDB::Table": _Kind("TableName", "arn:aws:dynamodb:{region}:{account}:table/{name}"),
    "AWS::Serverless::SimpleTable": _Kind(
        "TableName", "arn:aws:dynamodb:{region}:{account}:table/{name}"
    ),
    "AWS::SQS::Queue": _Kind("QueueName", "arn:aws:sqs:{region}:{account}:{name}", ref="url"),
    "AWS::S3::Bucket": _Kind("BucketName", "arn:aws:s3:::{name}", lowercase=True),
    "AWS::KMS::Key": _Kind(None, "arn:aws:kms:{region}:{account}:key/{name}", ref="id"),
    "AWS::KMS::Alias": _Kind("AliasName", "arn:aws:kms:{region}:{account}:{name}"),
    "AWS::SSM::Parameter": _Kind("Name", "arn:aws:ssm:{region}:{account}:parameter{name}"),
    "AWS::Serverless::StateMachine": _Kind(
        "Name", "arn:aws:states:{region}:{account}:stateMachine:{name}", ref="arn"
    ),
    "AWS::StepFunctions::StateMachine": _Kind(
        "StateMachineName", "arn:aws:states:{region}:{account}:stateMachine:{name}", ref="arn"
    ),
    "AWS::Serverless::Function": _Kind(
        "FunctionName", "arn:aws:lambda:{region}:{account}:function:{name}"
    ),
    "AWS::Lambda::Function": _Kind(
        "FunctionName", "arn:aws:lambda:{region}:{account}:function:{name}"
    ),
    "AWS::Serverless::LayerVersion": _Kind(
        "LayerName", "arn:aws:lambda:{region}:{account}:layer:{name}:1", ref="arn"
    ),
    "AWS::Lambda::LayerVersion": _Kind(
        "LayerName", "arn:aws:lambda:{region}:{account}:layer:{name}:1", ref="arn"
    ),
    "AWS::Events::Rule": _Kind("Name", "arn:aws:events:{region}:{account}:rule/{name}"),
    "AWS::Scheduler::Schedule": _Kind(
        "Name", "arn:aws:scheduler:{region}:{account}:schedule/default/{name}"
    ),
    "AWS::Scheduler::ScheduleGroup": _Kind(
        "Name", "arn:aws:scheduler:{region}:{account}:schedule-group/{name}"
    ),
    "AWS::SNS::Topic": _Kind("TopicName", "arn:aws:sns:{region}:{account}:{name}", ref="arn"),
    "AWS::IAM::Role": _Kind("RoleName", "arn:aws:iam::{account}:role/{name}"),
    "AWS::Logs::LogGroup": _Kind(
        "LogGroupName", "arn:aws:logs:{region}:{account}:log-group:{name}:*"
    ),
    "AWS::CloudWatch::Alarm": _Kind(
        "AlarmName", "arn:aws:cloudwatch:{region}:{account}:alarm:{name}"
    ),
    "AWS::Cognito::UserPool": _Kind(
        None, "arn:aws:cognito-idp:{region}:{account}:userpool/{name}", ref="id"
    ),
    "AWS::Serverless::HttpApi": _Kind(None, "arn:aws:apigateway:{region}::/apis/{name}", ref="id"),
    "AWS::Serverless::Api": _Kind(None, "arn:aws:apigateway:{region}::/restapis/{name}", ref="id"),
    "AWS::SecretsManager::Secret": _Kind(
        "Name", "arn:aws:secretsmanager:{region}:{account}:secret:{name}", ref="arn"
    ),
}
_DEFAULT_KIND = _Kind(None, "arn:aws:{service}:{region}:{account}:{name}")


@dataclass
class Resources:
    """Physical names, ARNs and attributes of a provisioned template, and a resolver for it."""

    region: str = "us-east-1"
    account_id: str = ACCOUNT_ID
    stack_name: str = STACK_NAME
    types: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    arns: dict[str, str] = field(default_factory=dict)
    queue_urls: dict[str, str] = field(default_factory=dict)
    refs: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    conditions: dict[str, bool] = field(default_factory=dict)
    mappings: dict[str, Any] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    """Resources that could not be created (``provision(strict=False)``): logical id → why."""

    # -- lookups -------------------------------------------------------------------------------

    def ref(self, name: str) -> Any:
        """What ``!Ref name`` returns: a parameter, a pseudo parameter or a resource's ref."""
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": (
                f"arn:aws:cloudformation:{self.region}:{self.account_id}:stack/{self.stack_name}/"
                "00000000-0000-0000-0000-000000000000"
            ),
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
        }
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        raise UnresolvableReference(f"!Ref {name}: no such parameter or resource")

    def get_att(self, logical_id: str, attribute: str) -> str:
        """What ``!GetAtt logical_id.attribute`` returns."""
        if logical_id not in self.attributes:
            raise UnresolvableReference(f"!GetAtt {logical_id}.{attribute}: no such resource")
        try:
            return self.attributes[logical_id][attribute]
        except KeyError:
            known = ", ".join(sorted(self.attributes[logical_id])) or "none"
            raise UnresolvableReference(
                f"!GetAtt {logical_id}.{attribute}: unknown attribute (known: {known})"
            ) from None

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            raise UnresolvableReference(f"condition {name} is not defined")
        return self.conditions[name]

    # -- intrinsic functions -------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic function in ``value`` (a template fragment) to plain data."""
        resolved = self._resolve(value)
        return None if resolved is NO_VALUE else resolved

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self._resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, argument), *_ = value.items()
            handler = self._intrinsics().get(key)
            if handler is not None:
                return handler(argument)
        resolved = {key: self._resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _intrinsics(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "Ref": lambda name: self.ref(self._resolve(name)),
            "Fn::GetAtt": self._fn_get_att,
            "Fn::Sub": self._fn_sub,
            "Fn::Join": self._fn_join,
            "Fn::Select": self._fn_select,
            "Fn::Split": self._fn_split,
            "Fn::If": self._fn_if,
            "Fn::Equals": self._fn_equals,
            "Fn::Not": lambda args: not self._truth(args[0]),
            "Fn::And": lambda args: all(self._truth(arg) for arg in args),
            "Fn::Or": lambda args: any(self._truth(arg) for arg in args),
            "Condition": lambda name: self.condition(name),
            "Fn::FindInMap": self._fn_find_in_map,
            "Fn::Base64": self._fn_base64,
            "Fn::ImportValue": self._fn_import_value,
            "Fn::ToJsonString": lambda arg: json.dumps(self._resolve(arg), separators=(",", ":")),
            "Fn::Length": lambda arg: len(self._resolve(arg)),
            "Fn::GetAZs": lambda _arg: [f"{self.region}{zone}" for zone in "abc"],
        }

    def _truth(self, value: Any) -> bool:
        resolved = self._resolve(value)
        if isinstance(resolved, str):
            return resolved.lower() == "true"
        return bool(resolved)

    def _fn_get_att(self, argument: Any) -> str:
        resolved = self._resolve(argument)
        if isinstance(resolved, str):
            resolved = resolved.split(".", 1)
        logical_id, attribute = resolved
        return self.get_att(logical_id, attribute)

    def _fn_sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, variables = argument[0], self._resolve(argument[1])
        else:
            text, variables = argument, {}

        def substitute(match: re.Match[str]) -> str:
            literal, name = match.group(1), match.group(2)
            if literal:
                return "${" + name + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return str(self.get_att(logical_id, attribute))
            return _as_text(self.ref(name))

        return _SUB_VARIABLE.sub(substitute, text)

    def _fn_join(self, argument: Any) -> str:
        delimiter, items = argument
        return str(delimiter).join(_as_text(item) for item in self._resolve(items))

    def _fn_select(self, argument: Any) -> Any:
        index, items = argument
        return self._resolve(items)[int(self._resolve(index))]

    def _fn_split(self, argument: Any) -> list[str]:
        delimiter, text = argument
        return str(self._resolve(text)).split(delimiter)

    def _fn_if(self, argument: Any) -> Any:
        name, when_true, when_false = argument
        return self._resolve(when_true if self.condition(name) else when_false)

    def _fn_equals(self, argument: Any) -> bool:
        left, right = (self._resolve(item) for item in argument)
        return _as_text(left) == _as_text(right)

    def _fn_find_in_map(self, argument: Any) -> Any:
        map_name, top, second = (self._resolve(item) for item in argument[:3])
        try:
            return self.mappings[map_name][top][second]
        except KeyError:
            raise UnresolvableReference(f"!FindInMap [{map_name}, {top}, {second}]") from None

    def _fn_base64(self, argument: Any) -> str:
        import base64

        return base64.b64encode(str(self._resolve(argument)).encode()).decode()

    def _fn_import_value(self, argument: Any) -> str:
        raise UnresolvableReference(
            f"!ImportValue {self._resolve(argument)}: other stacks' exports do not exist locally"
        )


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_as_text(item) for item in value)
    return str(value)


# -- planning: names, ARNs, attributes ---------------------------------------------------------


def plan(
    template: dict[str, Any],
    *,
    region: str = "us-east-1",
    parameters: dict[str, Any] | None = None,
    stack_name: str = STACK_NAME,
) -> Resources:
    """Everything knowable without creating anything: names, ARNs, attributes, conditions."""
    resources = Resources(region=region, stack_name=stack_name)
    resources.mappings = template.get("Mappings", {}) or {}
    resources.parameters = _parameter_values(template, parameters or {})
    for name, expression in (template.get("Conditions") or {}).items():
        resources.conditions[name] = False  # placeholder so forward references fail loudly below
        resources.conditions[name] = bool(resources._truth(expression))
    declared = dict(_declared_resources(template, resources))
    for logical_id in _creation_order(declared):
        _plan_resource(resources, logical_id, declared[logical_id])
    return resources


def _parameter_values(template: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, declaration in (template.get("Parameters") or {}).items():
        if name in overrides:
            value = overrides[name]
        elif "Default" in declaration:
            value = declaration["Default"]
        else:
            raise ValueError(f"template parameter {name} has no Default: pass it in parameters")
        if declaration.get("Type") == "CommaDelimitedList" and isinstance(value, str):
            value = [item.strip() for item in value.split(",")] if value else []
        values[name] = value
    unknown = set(overrides) - set(values)
    if unknown:
        log.debug("parameters not declared by the template: %s", sorted(unknown))
        values.update({name: overrides[name] for name in unknown})
    return values


def _declared_resources(
    template: dict[str, Any], resources: Resources
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The template's resources whose Condition holds, plus the implicit ones SAM adds."""
    declared = template.get("Resources") or {}
    implicit_http_api = False
    for logical_id, resource in declared.items():
        condition = resource.get("Condition")
        if condition is not None and not resources.condition(condition):
            continue
        yield logical_id, resource
        properties = resource.get("Properties") or {}
        if (
            resource.get("Type") in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine")
            and "Role" not in properties
            and f"{logical_id}Role" not in declared
        ):
            yield f"{logical_id}Role", {"Type": "AWS::IAM::Role", "Implicit": True}
        for event in (properties.get("Events") or {}).values():
            if event.get("Type") == "HttpApi" and "ApiId" not in (event.get("Properties") or {}):
                implicit_http_api = True
    if implicit_http_api and "ServerlessHttpApi" not in declared:
        yield "ServerlessHttpApi", {"Type": "AWS::Serverless::HttpApi", "Implicit": True}


def physical_name(resources: Resources, logical_id: str, resource: dict[str, Any]) -> str:
    """The template's own name for a resource, or ``<stack>-<LogicalId>``."""
    kind = _KINDS.get(resource.get("Type", ""), _DEFAULT_KIND)
    properties = resource.get("Properties") or {}
    if kind.name_property and kind.name_property in properties:
        return str(resources.resolve(properties[kind.name_property]))
    resource_type = resource.get("Type", "")
    if resource_type == "AWS::SSM::Parameter":
        return f"/{resources.stack_name}/{logical_id}"
    if resource_type == "AWS::KMS::Alias":
        return f"alias/{resources.stack_name}-{logical_id}"
    if resource_type == "AWS::Cognito::UserPool":
        return f"{resources.region}_{logical_id}"
    if resource_type in ("AWS::Serverless::HttpApi", "AWS::Serverless::Api"):
        return logical_id.lower()[:10]
    name = f"{resources.stack_name}-{logical_id}"
    if kind.lowercase:
        name = name.lower()
    if resource_type == "AWS::SQS::Queue" and _is_true(properties.get("FifoQueue")):
        name += ".fifo"
    return name


def _plan_resource(resources: Resources, logical_id: str, resource: dict[str, Any]) -> None:
    resource_type = resource.get("Type", "")
    kind = _KINDS.get(resource_type, _DEFAULT_KIND)
    name = physical_name(resources, logical_id, resource)
    service = resource_type.split("::")[1].lower() if resource_type.count("::") >= 2 else "unknown"
    arn = kind.arn.format(
        region=resources.region, account=resources.account_id, name=name, service=service
    )
    resources.types[logical_id] = resource_type
    resources.names[logical_id] = name
    resources.arns[logical_id] = arn
    attributes = {"Arn": arn, "Name": name}
    if resource_type == "AWS::SQS::Queue":
        url = f"https://sqs.{resources.region}.amazonaws.com/{resources.account_id}/{name}"
        resources.queue_urls[logical_id] = url
        attributes |= {"QueueName": name, "QueueUrl": url}
    elif resource_type == "AWS::S3::Bucket":
        attributes |= {
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{resources.region}.amazonaws.com",
            "WebsiteURL": f"http://{name}.s3-website-{resources.region}.amazonaws.com",
        }
    elif resource_type in ("AWS::DynamoDB::Table", "AWS::Serverless::SimpleTable"):
        attributes["StreamArn"] = f"{arn}/stream/1970-01-01T00:00:00.000"
    elif resource_type == "AWS::KMS::Key":
        attributes["KeyId"] = name
    elif resource_type == "AWS::SSM::Parameter":
        properties = resource.get("Properties") or {}
        attributes |= {"Type": str(properties.get("Type", "String"))}
        attributes["Value"] = _as_text(resources.resolve(properties.get("Value", "")))
    elif resource_type == "AWS::SNS::Topic":
        attributes |= {"TopicName": name, "TopicArn": arn}
    elif resource_type == "AWS::IAM::Role":
        attributes["RoleId"] = f"AROA{logical_id.upper()[:17]}"
    elif resource_type == "AWS::Cognito::UserPool":
        attributes["ProviderURL"] = f"https://cognito-idp.{resources.region}.amazonaws.com/{name}"
        attributes["ProviderName"] = f"cognito-idp.{resources.region}.amazonaws.com/{name}"
    elif resource_type in ("AWS::Serverless::HttpApi", "AWS::Serverless::Api"):
        attributes["ApiEndpoint"] = f"https://{name}.execute-api.{resources.region}.amazonaws.com"
    resources.attributes[logical_id] = attributes
    resources.refs[logical_id] = {"name": name, "arn": arn, "id": name}.get(kind.ref, name)
    if kind.ref == "url":
        resources.refs[logical_id] = resources.queue_urls[logical_id]


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


# -- creation ------------------------------------------------------------------------------------


@functools.cache
def _shared_session() -> boto3.Session:
    """One session per process: its loader cache makes the second provision much cheaper."""
    return boto3.Session()


class _Clients:
    """boto3 clients made on first use, all from one session (its loader cache is shared)."""

    def __init__(self, region: str, session: boto3.Session | None, endpoint_url: str | None):
        self._session = session or _shared_session()
        self._region = region
        self._endpoint_url = endpoint_url
        self._clients: dict[str, Any] = {}

    @property
    def secure_transport(self) -> bool:
        """Whether calls travel over HTTPS (moto's in-process mock: yes; a local server: no)."""
        endpoint = self._endpoint_url or os.environ.get("AWS_ENDPOINT_URL", "https://")
        return endpoint.startswith("https://")

    def __call__(self, service: str) -> Any:
        if service not in self._clients:
            kwargs: dict[str, Any] = {"region_name": self._region}
            if self._endpoint_url:
                kwargs["endpoint_url"] = self._endpoint_url
            self._clients[service] = self._session.client(service, **kwargs)  # type: ignore[call-overload]
        return self._clients[service]


def provision(
    template: dict[str, Any],
    *,
    region: str = "us-east-1",
    parameters: dict[str, Any] | None = None,
    base_dir: Path = ROOT,
    session: boto3.Session | None = None,
    endpoint_url: str | None = None,
    register_functions: bool = False,
    strict: bool = True,
) -> Resources:
    """Create every resource of ``template`` that moto can host; return their names and ARNs.

    ``base_dir`` is where relative paths in the template (DefinitionUri, CodeUri) start.
    ``register_functions`` also registers each function with moto's Lambda service (a placeholder
    package). Nothing needs that by default: the local cloud's moto server forwards Invoke calls to
    its runtime, and tests answer them by patching moto's ``LambdaBackend.invoke``.
    ``strict=False`` logs a resource that cannot be created (``Resources.failures``) and goes on.
    """
    resources = plan(template, region=region, parameters=parameters)
    clients = _Clients(region, session, endpoint_url)
    declared = dict(_declared_resources(template, resources))
    for logical_id in _creation_order(declared):
        resource = declared[logical_id]
        creator = _CREATORS.get(resource.get("Type", ""))
        if creator is None:
            log.debug("not hosted locally: %s (%s)", logical_id, resource.get("Type"))
            continue
        if resource.get("Type") in _FUNCTION_TYPES and not register_functions:
            continue
        context = _Context(template, resources, clients, base_dir)
        try:
            creator(context, logical_id, resource.get("Properties") or {})
        except (ClientError, UnresolvableReference, ValueError, KeyError, OSError) as error:
            failure = ProvisionError(f"{logical_id} ({resource.get('Type')}): {error}")
            if strict:
                raise failure from error
            log.error("not created: %s", failure)
            resources.failures[logical_id] = str(error)
    return resources


@dataclass
class _Context:
    template: dict[str, Any]
    resources: Resources
    clients: _Clients
    base_dir: Path


def _creation_order(declared: dict[str, dict[str, Any]]) -> list[str]:
    """Template order, except that a resource comes after the resources it references."""
    dependencies = {
        logical_id: {
            name for name in _references(resource.get("Properties") or {}) if name in declared
        }
        | {name for name in _as_list(resource.get("DependsOn")) if name in declared}
        for logical_id, resource in declared.items()
    }
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(logical_id: str) -> None:
        if logical_id in ordered or logical_id in visiting:
            return
        visiting.add(logical_id)
        for dependency in sorted(dependencies[logical_id] - {logical_id}):
            visit(dependency)
        visiting.discard(logical_id)
        ordered.append(logical_id)

    for logical_id in declared:
        visit(logical_id)
    return ordered


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _references(value: Any) -> Iterator[str]:
    """Logical ids named by ``Ref``, ``Fn::GetAtt`` and ``Fn::Sub`` anywhere in ``value``."""
    if isinstance(value, list):
        for item in value:
            yield from _references(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                yield item
            elif key == "Fn::GetAtt":
                target = item.split(".", 1)[0] if isinstance(item, str) else item[0]
                if isinstance(target, str):
                    yield target
            elif key == "Fn::Sub":
                text = item[0] if isinstance(item, list) else item
                if isinstance(text, str):
                    for match in _SUB_VARIABLE.finditer(text):
                        if not match.group(1):
                            yield match.group(2).split(".", 1)[0]
                if isinstance(item, list):
                    yield from _references(item[1:])
            else:
                yield from _references(item)


def _tags(context: _Context, properties: dict[str, Any]) -> list[dict[str, str]]:
    tags = context.resources.resolve(properties.get("Tags")) or []
    if isinstance(tags, dict):  # SAM's Tags are a mapping
        return [{"Key": key, "Value": str(value)} for key, value in tags.items()]
    return [{"Key": str(tag["Key"]), "Value": str(tag["Value"])} for tag in tags]


def _create_table(context: _Context, logical_id: str, properties: dict[str, Any]) -> None:
    resources = context.resources
    spec = resources.resolve(properties)
    dynamodb = context.clients("dynamodb")
    if resources.types[logical_id] == "AWS::Serverless::SimpleTable":
        key = spec.get("PrimaryKey", {"Name": "id", "Type": "String"})
        spec = {
            "AttributeDefinitions": [
                {"AttributeName": key["Name"], "AttributeType": key["Type"][0]}
            ],
            "KeySchema": [{"AttributeName": key["Name"], "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
        }
    pay_per_request = spec.get("BillingMode") == "PAY_PER_REQUEST" or (
        "ProvisionedThroughput" not in spec
    )
    request: dict[str, Any] = {
        "TableName": resources.names[logical_id],
        "AttributeDefinitions": spec["AttributeDefinitions"],
        "KeySchema": spec["KeySchema"],
    }
    if pay_per_request:
        request["BillingMode"] = "PAY_PER_REQUEST"
    else:
        request["ProvisionedThroughput"] = spec["ProvisionedThroughput"]
    for index_kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if spec.get(index_kind):
            indexes = []
            for index in spec[index_kind]:
                index = {
                    key: value
                    for key, value in index.items()
                    if key in ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput")
                }
                if pay_per_request:
                    index.pop("ProvisionedThroughput", None)
                indexes.append(index)
            request[index_kind] = indexes
    stream = spec.get("StreamSpecification")
    if stream:
        request["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": stream["StreamViewType"],
        }
    tags = _tags(context, properties)
    if tags:
        request["Tags"] = tags
    description = dynamodb.create_table(**request)["TableDescription"]
    if description.get("LatestStreamArn"):
        resources.attributes[logical_id]["StreamArn"] = description["LatestStreamArn"]
    ttl = spec.get("TimeToLiveSpecification")
    if ttl and _is_true(ttl.get("Enabled")):
        dynamodb.update_time_to_live(
            TableName=resources.names[logical_id],
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
        )


_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
)


def _create_queue(context: _Context, logical_id: str, properties: dict[str, Any]) -> None:
    resources = context.resources
    spec = resources.resolve(properties)
    attributes = {name: _as_text(spec[name]) for name in _QUEUE_ATTRIBUTES if name in spec}
    for policy in ("RedrivePolicy", "RedriveAllowPolicy"):
        if policy in spec:
            value = spec[policy]
            attributes[policy] = value if isinstance(value, str) else json.dumps(value)
    request: dict[str, Any] = {"QueueName": resources.names[logical_id], "Attributes": attributes}
    tags = _tags(context, properties)
    if tags:
        request["tags"] = {tag["Key"]: tag["Value"] for tag in tags}
    url = context.clients("sqs").create_queue(**request)["QueueUrl"]
    resources.queue_urls[logical_id] = url
    resources.refs[logical_id] = url
    resources.attributes[logical_id]["QueueUrl"] = url


# CloudFormation's BucketEncryption says ServerSideEncryptionByDefault where the API says Apply...
_S3_RULE_KEYS = {"ServerSideEncryptionByDefault": "ApplyServerSideEncryptionByDefault"}


def _create_bucket(context: _Context, logical_id: str, properties: dict[str, Any]) -> None:
    resources = context.resources
    spec = resources.resolve(properties)
    s3 = context.clients("s3")
    bucket = resources.names[logical_id]
    request: dict[str, Any] = {"Bucket": bucket}
    if resources.region != "us-east-1":
        request["CreateBucketConfiguration"] = {"LocationConstraint": resources.region}
    s3.create_bucket(**request)
    encryption = spec.get("BucketEncryption")
    if encryption:
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {_S3_RULE_KEYS.get(key, key): value for key, value in rule.items()}
                    for rule in encryption["ServerSideEncryptionConfiguration"]
                ]
            },
        )
    if spec.get("VersioningConfiguration"):
        s3.put_bucket_versioning(
            Bucket=bucket, VersioningConfiguration=spec["VersioningConfiguration"]
        )
    if spec.get("PublicAccessBlockConfiguration"):
        s3.put_public_access_block(
            Bucket=bucket, PublicAccessBlockConfiguration=spec["PublicAccessBlockConfiguration"]
        )
    cors = spec.get("CorsConfiguration")
    if cors:
        rules = []
        for rule in cors["CorsRules"]:
            rule = dict(rule)
            if "MaxAge" in rule:
                rule["MaxAgeSeconds"] = int(rule.pop("MaxAge"))
            rule.pop("Id", None)
            rules.append(rule)
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    tags = _tags(context, properties)
    if tags:
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags})


def _requires_tls(statement: dict[str, Any]) -> bool:
    condition = (statement.get("Condition") or {}).get("Bool") or {}
    return statement.get("Effect") == "Deny" and str(
        condition.get("aws:SecureTransport")
    ).lower() in ("false", "['false']")


def policy_for_transport(
    policy: dict[str, Any], *, secure: bool, name: str = "bucket policy"
) -> dict[str, Any] | None:
    """A bucket policy as it can apply over this transport (None: nothing left to apply).

    moto enforces bucket policies, and the local cloud's endpoint is ``http://127.0.0.1``: a
    "deny unless aws:SecureTransport" statement would refuse every call, so over plain HTTP (and
    only then) such statements are left out.
    """
    statements = policy.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    if not secure:
        kept = [statement for statement in statements if not _requires_tls(statement)]
        if len(kept) != len(statements):
            log.info("%s: TLS-only statements left out on a plain-HTTP endpoint", name)
        statements = kept
    if not statements:
        return None
    return {**policy, "Statement": statements}


def _create_bucket_policy(context: _Context, logical_id: str, properties: dict[str, Any]) -> None:
    spec = context.resources.resolve(properties)
    policy = policy_for_transport(
        spec["PolicyDocument"], secure=context.clients.secure_transport, name=logical_id
    )
    if policy is not None:
        context.clients("s3").put_bucket_policy(Bucket=spec["Bucket"], Policy=json.dumps(policy))


def _create_key(context: _Context, logical_id: str, properties: dict[str, Any]) -> None:
    resources = context.resources
    spec = resources.resolve(properties)
    kms = context.clients("kms")
    request: dict[str, Any] = {
        "KeyUsage": spec.get("KeyUsage", "ENCRYPT_DECRYPT"),
        "KeySpec": spec.get("KeySpec", "SYMMETRIC_DEFAULT"),
        "Description": spec.get("Description", f"{resources.stack_name} {logical_id}"),
    }
    if spec.get("KeyPolicy"):
        policy = spec["KeyPolicy"]
        request["Policy"] = policy if isinstance(policy, str) else json.dumps(policy)
    tags = _tags(context, properties)
    if tags:
        request["Tags"] = [{"TagKey": tag["Key"], "TagValue": tag["Value"]} for tag in tags]
    metadata = kms.create_key(**request)["KeyMetadata"]
    key_id, arn = metadata["KeyId"], metadata["Arn"]
    resources.names[logical_id] = key_id
    resources.arns[logical_id] = arn
    resources.refs[logical_id] = key_id
    resources.attributes[logical_id] |= {"Arn": arn, "KeyId": key_id, "Name": key_id}
    if _is_true(spec.get("EnableKeyRotation")) and request["KeySpec"] == "SYMMETRIC_DEFAULT":
        kms.enable_key_rotation(KeyId=key_id)


def _create_alias(context: _Context, logical_id: str, properties: dict[str, Any]) -> None:
    spec = context.resources.resolve(properties)
    context.clients("kms").create_alias(
        AliasName=context.resources.names[logical_id], TargetKeyId=spec["TargetKeyId"]
    )


def _create_parameter(context: _Context, logical_id: str, properties: dict[str, Any]) -> None:
    spec = context.resources.resolve(properties)
    request: dict[str, Any] = {
        "Name": context.resources.names[logical_id],
        "Value": _as_text(spec["Value"]),
        "Type": spec.get("Type", "String"),
        "Overwrite": True,
    }
    for optional in ("Description", "AllowedPattern", "Tier", "DataType"):
        if optional in spec:
            request[optional] = spec[optional]
    context.clients("ssm").put_parameter(**request)
    context.resources.attributes[logical_id]["Value"] = request["Value"]


def _substitute(value: Any, substitutions: dict[str, Any]) -> Any:
    """Replace ``${Name}`` in every string of an ASL definition (SAM DefinitionSubstitutions)."""
    if isinstance(value, str):
        return _SUB_VARIABLE.sub(
            lambda match: (
                _as_text(substitutions[match.group(2)])
                if not match.group(1) and match.group(2) in substitutions
                else match.group(0)
            ),
            value,
        )
    if isinstance(value, list):
        return [_substitute(item, substitutions) for item in value]
    if isinstance(value, dict):
        return {key: _substitute(item, substitutions) for key, item in value.items()}
    return value


def state_machine_definition(
    resources: Resources, properties: dict[str, Any], base_dir: Path = ROOT
) -> dict[str, Any]:
    """The ASL of a state machine resource, its DefinitionSubstitutions filled in."""
    from localcloud.template import parse_template

    if "Definition" in properties:
        definition = resources.resolve(properties["Definition"])
    elif "DefinitionString" in properties:
        definition = json.loads(resources.resolve(properties["DefinitionString"]))
    elif isinstance(properties.get("DefinitionUri"), str):
        path = base_dir / str(properties["DefinitionUri"])
        definition = parse_template(path.read_text(encoding="utf-8"))
    else:
        raise ValueError(
            "a state machine needs Definition, DefinitionString or a DefinitionUri path"
        )
    substitutions = resources.resolve(properties.get("DefinitionSubstitutions") or {})
    result = _substitute(definition, substitutions)
    assert isinstance(result, dict)
    leftover = sorted(set(_SUB_VARIABLE.findall(json.dumps(result))))
    missing = [name for literal, name in leftover if not literal]
    if missing:
        raise ValueError(f"DefinitionSubstitutions lack {', '.join(missing)}")
    return result


def _create_state_machine(context: _Context, logical_id: str, properties: dict[str, Any]) -> None:
    resources = context.resources
    definition = state_machine_definition(resources, properties, context.base_dir)
    role = resources.resolve(properties.get("Role")) or resources.arns.get(f"{logical_id}Role")
    request = {
        "name": resources.names[logical_id],
        "definition": json.dumps(definition),
        "roleArn": role or f"arn:aws:iam::{resources.account_id}:role/{logical_id}Role",
        "type": str(resources.resolve(properties.get("Type", "STANDARD"))).upper(),
    }
    tags = _tags(context, properties)
    if tags:
        request["tags"] = [{"key": tag["Key"], "value": tag["Value"]} for tag in tags]
    arn = context.clients("stepfunctions").create_state_machine(**request)["stateMachineArn"]
    resources.arns[logical_id] = arn
    resources.refs[logical_id] = arn
    resources.attributes[logical_id]["Arn"] = arn


_PLACEHOLDER_PACKAGE: bytes | None = None


def _placeholder_package() -> bytes:
    """A tiny zip: moto's Lambda needs a package; the local cloud runs the real code instead."""
    global _PLACEHOLDER_PACKAGE
    if _PLACEHOLDER_PACKAGE is None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("README.txt", "loanflow local cloud: code runs from the repository\n")
        _PLACEHOLDER_PACKAGE = buffer.getvalue()
    return _PLACEHOLDER_PACKAGE


def _function_role(context: _Context, logical_id: str, properties: dict[str, Any]) -> str:
    resources = context.resources
    role = resources.resolve(properties.get("Role"))
    if isinstance(role, str) and role.startswith("arn:"):
        return role
    role_name = f"{resources.stack_name}-{logical_id}Role"
    iam = context.clients("iam")
    try:
        return str(iam.get_role(RoleName=role_name)["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        created = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))
        return str(created["Role"]["Arn"])


def function_properties(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    """A function's Properties with the template's ``Globals.Function`` merged in (as SAM does)."""
    globals_ = dict(((template.get("Globals") or {}).get("Function")) or {})
    properties = dict(template["Resources"][logical_id].get("Properties") or {})
    merged = {**globals_, **properties}
    for mapping in ("Environment",):
        if mapping in globals_ and mapping in properties:
            merged[mapping] = {
                "Variables": {
                    **(globals_[mapping].get("Variables") or {}),
                    **(properties[mapping].get("Variables") or {}),
                }
            }
    if "Layers" in globals_ and "Layers" in properties:
        merged["Layers"] = [*globals_["Layers"], *properties["Layers"]]
    return merged


def function_environment(
    template: dict[str, Any], logical_id: str, resources: Resources
) -> dict[str, str]:
    """A function's environment variables (Globals + its own) with every intrinsic resolved."""
    properties = function_properties(template, logical_id)
    variables = resources.resolve((properties.get("Environment") or {}).get("Variables") or {})
    return {name: _as_text(value) for name, value in (variables or {}).items()}


def _register_function(context: _Context, logical_id: str, properties: dict[str, Any]) -> None:
    resources = context.resources
    merged = function_properties(context.template, logical_id)
    runtime = str(resources.resolve(merged.get("Runtime", "python3.13")))
    context.clients("lambda").create_function(
        FunctionName=resources.names[logical_id],
        Runtime=runtime,
        Role=_function_role(context, logical_id, merged),
        Handler=str(resources.resolve(merged.get("Handler", "app.handler"))),
        Code={"ZipFile": _placeholder_package()},
        Timeout=int(resources.resolve(merged.get("Timeout", 3))),
        MemorySize=int(resources.resolve(merged.get("MemorySize", 128))),
        Environment={"Variables": function_environment(context.template, logical_id, resources)},
    )


def _create_rule(context: _Context, logical_id: str, properties: dict[str, Any]) -> None:
    spec = context.resources.resolve(properties)
    events = context.clients("events")
    name = context.resources.names[logical_id]
    request: dict[str, Any] = {"Name": name, "State": spec.get("State", "ENABLED")}
    if "ScheduleExpression" in spec:
        request["ScheduleExpression"] = spec["ScheduleExpression"]
    if "EventPattern" in spec:
        pattern = spec["EventPattern"]
        request["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
    if "EventBusName" in spec:
        request["EventBusName"] = spec["EventBusName"]
    events.put_rule(**request)
    targets = [
        {key: value for key, value in target.items() if key in ("Id", "Arn", "Input", "RoleArn")}
        for target in spec.get("Targets") or []
    ]
    if targets:
        events.put_targets(Rule=name, Targets=targets)


def _create_schedule(context: _Context, logical_id: str, properties: dict[str, Any]) -> None:
    spec = context.resources.resolve(properties)
    target = {
        key: value
        for key, value in spec["Target"].items()
        if key in ("Arn", "RoleArn", "Input", "RetryPolicy", "DeadLetterConfig")
    }
    request: dict[str, Any] = {
        "Name": context.resources.names[logical_id],
        "ScheduleExpression": spec["ScheduleExpression"],
        "FlexibleTimeWindow": spec.get("FlexibleTimeWindow", {"Mode": "OFF"}),
        "Target": target,
        "State": spec.get("State", "ENABLED"),
    }
    if "GroupName" in spec:
        request["GroupName"] = spec["GroupName"]
    context.clients("scheduler").create_schedule(**request)


def _generated_secret(spec: dict[str, Any]) -> str:
    """A CloudFormation ``GenerateSecretString``, generated the same way."""
    alphabet = string.ascii_letters + string.digits
    if _is_true(spec.get("ExcludeNumbers")):
        alphabet = string.ascii_letters
    if _is_true(spec.get("ExcludeUppercase")):
        alphabet = "".join(ch for ch in alphabet if not ch.isupper())
    if _is_true(spec.get("ExcludeLowercase")):
        alphabet = "".join(ch for ch in alphabet if not ch.islower())
    if not _is_true(spec.get("ExcludePunctuation")):
        alphabet += "!#$%&()*+,-./:;<=>?@[]^_`{|}~"
    excluded = set(str(spec.get("ExcludeCharacters", "")))
    alphabet = "".join(ch for ch in alphabet if ch not in excluded)
    if _is_true(spec.get("IncludeSpace")):
        alphabet += " "
    length = int(spec.get("PasswordLength", 32))
    password = "".join(secrets.choice(alphabet) for _ in range(length))
    if "SecretStringTemplate" in spec and "GenerateStringKey" in spec:
        document = json.loads(spec["SecretStringTemplate"])
        document[spec["GenerateStringKey"]] = password
        return json.dumps(document)
    return password


def _create_secret(context: _Context, logical_id: str, properties: dict[str, Any]) -> None:
    resources = context.resources
    spec = resources.resolve(properties)
    if "SecretString" in spec:
        value = str(spec["SecretString"])
    else:
        value = _generated_secret(spec.get("GenerateSecretString") or {})
    request: dict[str, Any] = {"Name": resources.names[logical_id], "SecretString": value}
    if "Description" in spec:
        request["Description"] = spec["Description"]
    arn = context.clients("secretsmanager").create_secret(**request)["ARN"]
    resources.arns[logical_id] = arn
    resources.refs[logical_id] = arn
    resources.attributes[logical_id]["Arn"] = arn


def _create_topic(context: _Context, logical_id: str, properties: dict[str, Any]) -> None:
    arn = context.clients("sns").create_topic(Name=context.resources.names[logical_id])["TopicArn"]
    context.resources.arns[logical_id] = arn


def _create_log_group(context: _Context, logical_id: str, properties: dict[str, Any]) -> None:
    context.clients("logs").create_log_group(logGroupName=context.resources.names[logical_id])


_FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
_CREATORS: dict[str, Callable[[_Context, str, dict[str, Any]], None]] = {
    "AWS::DynamoDB::Table": _create_table,
    "AWS::Serverless::SimpleTable": _create_table,
    "AWS::SQS::Queue": _create_queue,
    "AWS::S3::Bucket": _create_bucket,
    "AWS::S3::BucketPolicy": _create_bucket_policy,
    "AWS::KMS::Key": _create_key,
    "AWS::KMS::Alias": _create_alias,
    "AWS::SSM::Parameter": _create_parameter,
    "AWS::Serverless::StateMachine": _create_state_machine,
    "AWS::StepFunctions::StateMachine": _create_state_machine,
    "AWS::Serverless::Function": _register_function,
    "AWS::Events::Rule": _create_rule,
    "AWS::Scheduler::Schedule": _create_schedule,
    "AWS::SecretsManager::Secret": _create_secret,
    "AWS::SNS::Topic": _create_topic,
    "AWS::Logs::LogGroup": _create_log_group,
}
