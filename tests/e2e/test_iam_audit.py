"""The outside IAM audit's findings, re-run on every IAM document of the dev and prod plans:
trust policies pinned to a source, no account-wide reads, PutEvents pinned to the caller's
own event sources, no grant its action can never match, senders that only send."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.core import iam
from preview import engine
from serverless_wa.rules._actions import accepts
from serverless_wa.rules.iam_grants import ACCOUNT_WIDE_READ
from tests.helpers import statements_of_role

ROLE = "aws:iam/role:Role"


@pytest.fixture(scope="module", params=["dev", "prod"])
def plan(request) -> engine.Plan:
    return engine.run_main(request.param)


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _documents(plan: engine.Plan) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for r in plan.registrations:
        policy = r.inputs.get("policy")
        if r.type in ("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy"):
            found.append((r.name, json.loads(policy)))
    return found


def test_every_service_trust_policy_is_pinned(plan):
    unpinned = []
    for role in plan.of_type(ROLE):
        for statement in json.loads(role.inputs["assumeRolePolicy"])["Statement"]:
            services = set(_listed(statement["Principal"].get("Service", [])))
            if not services & iam.SOURCE_PINNED_SERVICES:
                continue
            condition = statement.get("Condition", {})
            if "aws:SourceAccount" not in condition.get("StringEquals", {}):
                unpinned.append(role.name)
    assert unpinned == []


def test_no_role_attaches_a_managed_policy_that_reads_the_account(plan):
    attached = {
        r.inputs["policyArn"].rsplit("/", 1)[-1]
        for r in plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    }
    attached |= {
        arn.rsplit("/", 1)[-1]
        for role in plan.of_type(ROLE)
        for arn in role.inputs.get("managedPolicyArns") or []
    }
    assert attached & set(ACCOUNT_WIDE_READ) == set()


def test_every_put_events_grant_names_its_sources(plan):
    unpinned = [
        (name, statement)
        for name, document in _documents(plan)
        for statement in document["Statement"]
        if "events:PutEvents" in _listed(statement["Action"])
        and not statement.get("Condition", {}).get("StringEquals", {}).get("events:source")
    ]
    assert unpinned == []


def test_no_grant_names_a_resource_its_action_cannot_act_on(plan):
    dead = []
    for name, document in _documents(plan):
        for statement in document["Statement"]:
            resources = _listed(statement["Resource"])
            for action in _listed(statement["Action"]):
                accepted = accepts(action)
                if accepted is not None and not any(accepted.matches(r) for r in resources):
                    dead.append((name, action, resources))
    assert dead == []


def test_progress_senders_only_send(plan):
    connections = plan.one("aws:dynamodb/table:Table", "progress-tracking-connections")
    roles = {r.name for r in plan.of_type(ROLE)}
    senders = {"progress-tracking-start-role", "progress-tracking-report-role"} & roles
    assert "progress-tracking-start-role" in senders  # report exists when a bus is configured
    for role in sorted(senders):
        on_connections = {
            action
            for statement in statements_of_role(plan, role)
            if statement["Resource"] == connections.outputs["arn"]
            for action in _listed(statement["Action"])
        }
        assert on_connections == {"dynamodb:DeleteItem"}, role
