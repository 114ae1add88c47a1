"""Secrets Manager: secrets rotate on a schedule (SECRETS-001).

A secret that signs or grants something (an API key, a signing key) is only as safe as the
time since it last changed: rotation bounds how long a leaked value is useful. A secret is
rotated when a `SecretRotation` refers to it (through the `secretId` dependency, else by ARN
or name) with rules that repeat at most every `max_rotation_days` days: an
`automaticallyAfterDays` no greater than that, or a `scheduleExpression` (`rate(N days)`
no greater, or a `cron()`, which repeats at least yearly and is taken as the owner's
choice). A rotation whose rules are unknown at preview, or a rotation whose target cannot be
resolved, is never a violation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from serverless_wa.graph import Graph, Node
from serverless_wa.props import ABSENT, UNKNOWN, known
from serverless_wa.registry import Examples, Finding, Resource, Rule, anchors, figure, register
from serverless_wa.rules._common import arn, number, stack_case

SECRET = "aws:secretsmanager/secret:Secret"
ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"
DEFAULT_MAX_DAYS = 90  # Security Hub SecretsManager.4's default
_RATE_DAYS = re.compile(r"^rate\((\d+) days?\)$")
_RATE_HOURS = re.compile(r"^rate\((\d+) hours?\)$")


def _period_days(rotation: Node) -> object:
    """Days between rotations; None when the rules repeat by cron; UNKNOWN when unknown;
    ABSENT when there are no rules at all."""
    days, schedule = (
        rotation.get("rotationRules.automaticallyAfterDays"),
        rotation.get("rotationRules.scheduleExpression"),
    )
    if UNKNOWN in (days, schedule) or rotation.get("rotationRules") is UNKNOWN:
        return UNKNOWN
    if number(days) is not None and number(days):
        return number(days)
    if isinstance(schedule, str) and schedule:
        text = schedule.strip()
        for pattern, scale in ((_RATE_DAYS, 1.0), (_RATE_HOURS, 1 / 24)):
            match = pattern.match(text)
            if match:
                return int(match.group(1)) * scale
        return None  # cron(): repeats by the owner's calendar
    return ABSENT


def _rotated(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    limit = number(config.get("max_rotation_days")) or DEFAULT_MAX_DAYS
    rotations: dict[str, list[Node]] = {}
    unresolved = False  # a rotation that may belong to any secret
    for rotation in graph.of_type(ROTATION):
        targets = graph.refs(rotation, "secretId", (SECRET,))
        if len(targets) == 1:
            rotations.setdefault(targets[0].urn, []).append(rotation)
        elif targets or not known(rotation.get("secretId")):
            unresolved = True
        # else: it names a secret outside this stack
    for secret in graph.of_type(SECRET):
        found = rotations.get(secret.urn, [])
        if not found:
            # A secret whose name is not known yet may be the one a rotation names.
            if not unresolved and isinstance(secret.get("name"), str):
                yield Finding(
                    "secret has no SecretRotation: a leaked value stays valid until someone "
                    "changes it by hand",
                    urn=secret.urn,
                )
            continue
        periods = [_period_days(r) for r in found]
        if UNKNOWN in periods or any(p is None for p in periods):
            continue
        shortest = min((p for p in periods if isinstance(p, int | float)), default=None)
        if shortest is None:
            yield Finding(
                "secret's rotation has no rotationRules, so it never repeats", urn=secret.urn
            )
        elif shortest > limit:
            yield Finding(
                f"secret rotates every {figure(shortest)} days, over the {figure(limit)}-day limit",
                urn=secret.urn,
            )


def _secret(name: str = "key") -> Resource:
    return Resource(
        SECRET, name, {"name": name, "arn": arn("secretsmanager", f"secret:{name}-AbCdEf")}
    )


def _rotation(rules: dict[str, Any], *, linked: bool = True, secret: str = "key") -> Resource:
    props: dict[str, Any] = {"rotationRules": rules}
    if not linked:
        props["secretId"] = arn("secretsmanager", f"secret:{secret}-AbCdEf")
    return Resource(
        ROTATION,
        "rotation",
        props,
        depends={"secretId": (secret,)} if linked else {},
    )


register(
    Rule(
        id="SECRETS-001",
        name="secretsmanager-rotation",
        title="Secrets Manager secrets rotate on a schedule",
        description=(
            "Each secret has a SecretRotation (linked through secretId, else by ARN) whose "
            "rotationRules repeat at most every max_rotation_days (automaticallyAfterDays, or "
            "a rate() scheduleExpression; cron() is accepted). A rotation whose target cannot "
            "be resolved, or whose rules are unknown at preview, is not a finding."
        ),
        severity="MEDIUM",
        pillar="SEC",
        scope="stack",
        types=(SECRET, ROTATION),
        reads={
            SECRET: ("name",),
            ROTATION: (
                "secretId",
                "rotationRules.automaticallyAfterDays",
                "rotationRules.scheduleExpression",
            ),
        },
        anchors=anchors(
            cdk_nag="AwsSolutions-SMG4",
            checkov="CKV2_AWS_57",
            awsguard="secretsmanager-rotation-enabled-check",
        ),
        knob="signing_key_rotation_days",
        raw="aws.secretsmanager.SecretRotation(rotation_rules.automatically_after_days)",
        remediation=(
            "Raw: aws.secretsmanager.SecretRotation(secret_id=secret.id, "
            "rotation_lambda_arn=rotator.arn, rotation_rules={'automatically_after_days': 30}). "
            "Component: signing_key_rotation_days (waiting-room)."
        ),
        check=_rotated,
        config={
            "max_rotation_days": {
                "type": "integer",
                "default": DEFAULT_MAX_DAYS,
                "description": "The longest rotation period accepted, in days",
            }
        },
        examples=Examples(
            compliant=(
                stack_case(_secret(), _rotation({"automaticallyAfterDays": 30}), subject="key"),
                stack_case(
                    _secret(),
                    _rotation({"scheduleExpression": "rate(10 days)"}, linked=False),
                    subject="key",
                ),
                stack_case(
                    _secret(),
                    _rotation({"scheduleExpression": "cron(0 4 1 * ? *)"}),
                    subject="key",
                ),
                stack_case(
                    _secret(),
                    _rotation({"automaticallyAfterDays": 120}),
                    subject="key",
                    config={"max_rotation_days": 180},
                ),
            ),
            non_compliant=(
                stack_case(_secret(), subject="key"),
                stack_case(_secret(), _rotation({"automaticallyAfterDays": 365}), subject="key"),
                stack_case(
                    _secret(),
                    _secret("other"),
                    _rotation({"automaticallyAfterDays": 30}, secret="other"),
                    subject="key",
                ),
                stack_case(_secret(), _rotation({}), subject="key"),
            ),
        ),
    )
)
