"""Authentication edges: API Gateway Lambda authorizers and Cognito user pools.

AUTH-001: a Lambda authorizer caches its result, so it runs once per token rather than on
every request (its latency and its concurrency then stay off the request path).
COGNITO-001 to COGNITO-003: a user pool requires MFA, blocks risky sign-ins, and cannot
be deleted by accident; a pool has no backup, so a deleted one takes its users with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from serverless_wa.graph import Node
from serverless_wa.props import ABSENT, UNKNOWN
from serverless_wa.registry import Examples, Finding, Rule, anchors, register
from serverless_wa.rules._common import case, number

AUTHORIZER = "aws:apigateway/authorizer:Authorizer"
USER_POOL = "aws:cognito/userPool:UserPool"
LAMBDA_AUTHORIZER_TYPES = ("TOKEN", "REQUEST")
PROVIDER_DEFAULT_TTL_S = 300  # the provider fills it in when the program sets none


# AUTH-001 -----------------------------------------------------------------------------------


def _authorizer_cache(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    kind, ttl = node.get("type"), node.get("authorizerResultTtlInSeconds")
    if kind is UNKNOWN or ttl is UNKNOWN:
        return
    if (kind if kind is not ABSENT else "TOKEN") not in LAMBDA_AUTHORIZER_TYPES:
        return
    seconds = PROVIDER_DEFAULT_TTL_S if ttl is ABSENT else number(ttl)
    if seconds is not None and seconds <= 0:
        yield Finding(
            "result caching is off (TTL 0), so the authorizer function runs on every request: "
            "its latency is added to each call and its throttling fails them"
        )


register(
    Rule(
        id="AUTH-001",
        name="apigw-authorizer-result-cache",
        title="REST API Lambda authorizers cache their result",
        description=(
            "A TOKEN or REQUEST authorizer (type absent = TOKEN) with "
            "authorizerResultTtlInSeconds 0 is a finding; absent = 300 (the provider default). "
            "The policy it returns must then cover every route the caller may use."
        ),
        severity="MEDIUM",
        pillar="PERF",
        scope="resource",
        types=(AUTHORIZER,),
        reads={AUTHORIZER: ("type", "authorizerResultTtlInSeconds")},
        anchors=anchors(),
        knob="result_ttl_s",
        raw="authorizer_result_ttl_in_seconds",
        remediation=(
            "Raw: aws.apigateway.Authorizer(..., authorizer_result_ttl_in_seconds=300) and a "
            "policy over all the caller's routes. Component: result_ttl_s."
        ),
        check=_authorizer_cache,
        examples=Examples(
            compliant=(
                case(AUTHORIZER, {"type": "TOKEN", "authorizerResultTtlInSeconds": 300}),
                case(AUTHORIZER, {"type": "REQUEST"}),
                case(AUTHORIZER, {"type": "COGNITO_USER_POOLS", "authorizerResultTtlInSeconds": 0}),
            ),
            non_compliant=(
                case(AUTHORIZER, {"type": "TOKEN", "authorizerResultTtlInSeconds": 0}),
                case(AUTHORIZER, {"authorizerResultTtlInSeconds": 0}),
                case(AUTHORIZER, {"type": "REQUEST", "authorizerResultTtlInSeconds": 0}),
            ),
        ),
    )
)


# COGNITO-001 --------------------------------------------------------------------------------


def _mfa(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    mode = node.get("mfaConfiguration")
    if mode is UNKNOWN or mode == "ON":
        return
    if mode == "OPTIONAL" and config.get("allow_optional"):
        return
    shown = "unset (OFF)" if mode is ABSENT else str(mode)
    yield Finding(f"MFA is {shown}, so a stolen password alone signs in")


register(
    Rule(
        id="COGNITO-001",
        name="cognito-user-pool-mfa",
        title="Cognito user pools require MFA",
        description=(
            "mfaConfiguration must be ON (absent = OFF); OPTIONAL passes only with config "
            "allow_optional."
        ),
        severity="MEDIUM",
        pillar="SEC",
        scope="resource",
        types=(USER_POOL,),
        reads={USER_POOL: ("mfaConfiguration",)},
        anchors=anchors(cdk_nag="AwsSolutions-COG2"),
        knob="mfa",
        raw="mfa_configuration='ON' and software_token_mfa_configuration.enabled",
        remediation=(
            "Raw: aws.cognito.UserPool(..., mfa_configuration='ON', "
            "software_token_mfa_configuration={'enabled': True}). Component: user_pool.mfa."
        ),
        check=_mfa,
        config={"allow_optional": {"type": "boolean", "default": False}},
        examples=Examples(
            compliant=(
                case(USER_POOL, {"mfaConfiguration": "ON"}),
                case(USER_POOL, {"mfaConfiguration": "OPTIONAL"}, config={"allow_optional": True}),
            ),
            non_compliant=(
                case(USER_POOL, {}),
                case(USER_POOL, {"mfaConfiguration": "OFF"}),
                case(USER_POOL, {"mfaConfiguration": "OPTIONAL"}),
            ),
        ),
    )
)


# COGNITO-002 --------------------------------------------------------------------------------


def _threat_protection(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    mode = node.get("userPoolAddOns.advancedSecurityMode")
    if mode is UNKNOWN or mode == "ENFORCED":
        return
    shown = "unset (OFF)" if mode is ABSENT else str(mode)
    yield Finding(
        f"threat protection (advanced security) is {shown}: compromised credentials and "
        "risky sign-ins are not blocked"
    )


register(
    Rule(
        id="COGNITO-002",
        name="cognito-user-pool-threat-protection",
        title="Cognito user pools enforce threat protection",
        description=(
            "userPoolAddOns.advancedSecurityMode must be ENFORCED (absent = OFF; AUDIT only "
            "reports). It needs the PLUS feature plan (userPoolTier), which is billed per user."
        ),
        severity="MEDIUM",
        pillar="SEC",
        scope="resource",
        types=(USER_POOL,),
        reads={USER_POOL: ("userPoolAddOns.advancedSecurityMode",)},
        anchors=anchors(cdk_nag="AwsSolutions-COG3"),
        knob="advanced_security",
        raw="user_pool_add_ons.advanced_security_mode='ENFORCED', user_pool_tier='PLUS'",
        remediation=(
            "Raw: aws.cognito.UserPool(..., user_pool_tier='PLUS', user_pool_add_ons="
            "{'advanced_security_mode': 'ENFORCED'}). Component: user_pool.advanced_security."
        ),
        check=_threat_protection,
        examples=Examples(
            compliant=(case(USER_POOL, {"userPoolAddOns": {"advancedSecurityMode": "ENFORCED"}}),),
            non_compliant=(
                case(USER_POOL, {}),
                case(USER_POOL, {"userPoolAddOns": {"advancedSecurityMode": "AUDIT"}}),
            ),
        ),
    )
)


# COGNITO-003 --------------------------------------------------------------------------------


def _pool_deletion_protection(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    state = node.get("deletionProtection")
    if state is UNKNOWN or state == "ACTIVE":
        return
    shown = "unset (INACTIVE)" if state is ABSENT else str(state)
    yield Finding(
        f"deletion protection is {shown}; a deleted pool and its users cannot be restored"
    )


register(
    Rule(
        id="COGNITO-003",
        name="cognito-user-pool-deletion-protection",
        title="Cognito user pools have deletion protection",
        description=(
            "deletionProtection must be ACTIVE (absent = INACTIVE). Cognito keeps no backup, "
            "so a deleted pool loses every user and their credentials."
        ),
        severity="MEDIUM",
        pillar="REL",
        scope="resource",
        types=(USER_POOL,),
        reads={USER_POOL: ("deletionProtection",)},
        anchors=anchors(),
        knob="environment='prod' / deletion_protection",
        raw="deletion_protection='ACTIVE'",
        remediation=(
            "Raw: aws.cognito.UserPool(..., deletion_protection='ACTIVE'). Component: on in "
            "prod stacks, or user_pool.deletion_protection."
        ),
        check=_pool_deletion_protection,
        examples=Examples(
            compliant=(case(USER_POOL, {"deletionProtection": "ACTIVE"}),),
            non_compliant=(
                case(USER_POOL, {}),
                case(USER_POOL, {"deletionProtection": "INACTIVE"}),
            ),
        ),
    )
)
