"""``loanflow policy show|set``: changes are validated before they reach the parameter."""

from __future__ import annotations

import json
from typing import Any

import boto3

from loanflow.policy import DEFAULT_POLICY, PolicyConfig
from loanflow_cli.policy import apply_assignments, register


def run(*argv: str) -> int:
    import argparse

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["policy", *argv])
    return int(args.func(args))


def stored(resources: Any) -> PolicyConfig:
    name = resources.names["CreditPolicyParameter"]
    value = boto3.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
    return PolicyConfig.model_validate_json(value)


def test_set_changes_keys_and_nested_tier_terms(resources, capsys):
    name = resources.names["CreditPolicyParameter"]

    code = run("set", "risk_tolerance=0.8", "tiers.B.max_line=60000", "--name", name)

    assert code == 0
    policy = stored(resources)
    assert str(policy.risk_tolerance) == "0.8"
    assert str(policy.tiers["B"].max_line) == "60000"
    assert "risk_tolerance" in capsys.readouterr().out


def test_an_invalid_policy_is_refused_and_nothing_changes(resources, capsys):
    name = resources.names["CreditPolicyParameter"]

    code = run("set", "apr_cap=0.36", "--name", name)

    assert code == 2
    assert stored(resources) == DEFAULT_POLICY
    assert "policy not changed" in capsys.readouterr().out


def test_show_prints_the_policy(resources, capsys):
    assert run("show", "--name", resources.names["CreditPolicyParameter"]) == 0

    assert json.loads(capsys.readouterr().out)["tier_a_max_pd"] == DEFAULT_POLICY.tier_a_max_pd


def test_unknown_keys_are_refused():
    import pytest

    with pytest.raises(ValueError, match="no such key"):
        apply_assignments({"a": 1}, ["b=2"])
