"""Read template.yaml: CloudFormation YAML with its short-form intrinsic tags.

``!Ref X`` becomes ``{"Ref": "X"}``, ``!GetAtt A.B`` becomes ``{"Fn::GetAtt": ["A", "B"]}``,
``!Condition C`` becomes ``{"Condition": "C"}`` and every other ``!Name v`` becomes
``{"Fn::Name": v}`` — the long forms CloudFormation itself works with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE_PATH = ROOT / "template.yaml"

_FN_TAGS = (
    "Sub",
    "If",
    "Equals",
    "Not",
    "Select",
    "Join",
    "Split",
    "FindInMap",
    "ImportValue",
    "Base64",
    "And",
    "Or",
    "GetAZs",
    "Cidr",
    "Length",
    "ToJsonString",
)


class _TemplateLoader(yaml.SafeLoader):
    """SafeLoader that knows the CloudFormation tags and keeps dates as strings."""


# CloudFormation reads unquoted 2010-09-09 as a string, not a date.
_TemplateLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _node_value(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    raise yaml.constructor.ConstructorError(
        None, None, f"unexpected node {node.id}", node.start_mark
    )


def _ref(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    return {"Ref": _node_value(loader, node)}


def _condition(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    return {"Condition": _node_value(loader, node)}


def _get_att(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    value = _node_value(loader, node)
    if isinstance(value, str):
        logical_id, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [logical_id, attribute]}
    return {"Fn::GetAtt": value}


def _function(name: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        return {f"Fn::{name}": _node_value(loader, node)}

    return construct


_TemplateLoader.add_constructor("!Ref", _ref)
_TemplateLoader.add_constructor("!Condition", _condition)
_TemplateLoader.add_constructor("!GetAtt", _get_att)
for _name in _FN_TAGS:
    _TemplateLoader.add_constructor(f"!{_name}", _function(_name))


def parse_template(text: str) -> dict[str, Any]:
    """Parse CloudFormation YAML text into a dict with long-form intrinsics."""
    document = yaml.load(text, Loader=_TemplateLoader)  # noqa: S506 - a SafeLoader subclass
    if not isinstance(document, dict):
        raise ValueError("a template must be a YAML mapping")
    return document


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """Read a SAM/CloudFormation template (by default the repository's template.yaml)."""
    return parse_template(Path(path).read_text(encoding="utf-8"))
