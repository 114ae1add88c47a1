"""S3 rules.

pulumi-aws 7 names the bucket `aws:s3/bucket:Bucket` and keeps `aws:s3/bucketV2:BucketV2`
and the `…V2` sub-resources as deprecated aliases: every rule accepts both spellings. AWS
applies Block Public Access, disabled ACLs and SSE-S3 to new buckets by default, so "no
configuration" is treated as those defaults; the sub-resources are where a bucket gets
weakened or strengthened. Stack rules link a sub-resource to its bucket through the `bucket`
dependency, else by the known bucket name (or id / ARN); a sub-resource that stays
unresolved, or a bucket whose name is unknown, never yields a finding.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from serverless_wa.graph import Graph, Node
from serverless_wa.props import ABSENT, INVALID, UNKNOWN, as_list, known, parse_json
from serverless_wa.registry import Examples, Finding, Resource, Rule, anchors, register
from serverless_wa.rules._common import DATA_TAG, case, ephemeral, stack_case
from serverless_wa.rules._iam import action_matches, statements

BUCKET = "aws:s3/bucket:Bucket"
BUCKET_V2 = "aws:s3/bucketV2:BucketV2"
BUCKETS = (BUCKET, BUCKET_V2)
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ACL = "aws:s3/bucketAcl:BucketAcl"
ACL_V2 = "aws:s3/bucketAclV2:BucketAclV2"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
VERSIONING = (
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketVersioningV2:BucketVersioningV2",
)
LOGGING = ("aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2")
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)

PUBLIC_ACLS = ("public-read", "public-read-write", "authenticated-read")
PUBLIC_GROUPS = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)
RESTRICTING_KEYS = ("aws:sourcearn", "aws:sourceaccount", "aws:principalorgid", "aws:sourcevpce")
BLOCK_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")


# Linking sub-resources to buckets --------------------------------------------------------


def bucket_of(graph: Graph, node: Node, prop: str = "bucket") -> tuple[Node | None, bool]:
    """(the bucket `node.prop` names, resolved): a dependency on a bucket, else the known
    value matched to a bucket's name, id or ARN. A known name that matches none of the
    stack's (all named) buckets is another stack's bucket: resolved, to nothing."""
    linked = [t for t in node.deps.get(prop.split(".")[0], []) if t.type in BUCKETS]
    if linked:
        return (linked[0], True) if len(linked) == 1 else (None, False)
    value = node.get(prop)
    if value is UNKNOWN:
        return None, False
    if not isinstance(value, str) or not value:
        return None, True
    buckets = graph.of_type(*BUCKETS)
    matches = [b for b in buckets if value in (b.get("bucket"), b.get("id"), b.get("arn"))]
    if len(matches) == 1:
        return matches[0], True
    return None, not matches and all(isinstance(b.get("bucket"), str) for b in buckets)


def attached(graph: Graph, types: tuple[str, ...]) -> tuple[dict[str, list[Node]], bool]:
    """bucket URN -> its sub-resources of `types`; and whether some stay unresolved."""
    found: dict[str, list[Node]] = {}
    unresolved = False
    for node in graph.of_type(*types):
        bucket, resolved = bucket_of(graph, node)
        if bucket is not None:
            found.setdefault(bucket.urn, []).append(node)
        elif not resolved:
            unresolved = True
    return found, unresolved


def _unlinked(bucket: Node, unresolved: bool) -> bool:
    """Whether a bucket without a linked sub-resource may still have one we cannot see."""
    return unresolved or not isinstance(bucket.get("bucket"), str)


def _bucket(name: str, **props: Any) -> Resource:
    return Resource(
        BUCKET, name, {"bucket": name, "arn": f"arn:aws:s3:::{name}", "id": name, **props}
    )


def _sub(type_: str, name: str, bucket: str, linked: bool = True, **props: Any) -> Resource:
    """A sub-resource of `bucket`: wired by dependency (preview), or by name only."""
    depends = {"bucket": (bucket,)} if linked else {}
    return Resource(type_, name, {"bucket": bucket, **props}, depends=depends)


# S3-001 ----------------------------------------------------------------------------------


def _block_strict(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    weak = [flag for flag in BLOCK_FLAGS if node.get(flag) not in (True, UNKNOWN)]
    if weak:
        yield Finding(f"{', '.join(weak)} {'is' if len(weak) == 1 else 'are'} false or unset")


STRICT = dict.fromkeys(BLOCK_FLAGS, True)

register(
    Rule(
        id="S3-001",
        name="s3-public-access-block-strict",
        title="Bucket public access blocks set all four switches",
        description=(
            "blockPublicAcls, blockPublicPolicy, ignorePublicAcls and restrictPublicBuckets "
            "must all be true; in this resource absent = false."
        ),
        severity="HIGH",
        pillar="SEC",
        scope="resource",
        types=(PUBLIC_ACCESS_BLOCK,),
        reads={PUBLIC_ACCESS_BLOCK: BLOCK_FLAGS},
        anchors=anchors(
            crp="aws-s3-bucket-disallow-public-read",
            cdk_nag="AwsSolutions-S2",
            checkov="CKV_AWS_53, CKV_AWS_54, CKV_AWS_55, CKV_AWS_56",
        ),
        knob="",
        raw="block_public_acls / block_public_policy / ignore_public_acls / "
        "restrict_public_buckets=True",
        check=_block_strict,
        remediation=(
            "Raw: aws.s3.BucketPublicAccessBlock(..., block_public_acls=True, "
            "block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True). "
            "Website buckets take an exemption."
        ),
        examples=Examples(
            compliant=(case(PUBLIC_ACCESS_BLOCK, {"bucket": "archive", **STRICT}),),
            non_compliant=(
                case(PUBLIC_ACCESS_BLOCK, {"bucket": "archive"}),
                case(
                    PUBLIC_ACCESS_BLOCK, {"bucket": "archive", **STRICT, "blockPublicPolicy": False}
                ),
                case(
                    PUBLIC_ACCESS_BLOCK,
                    {"bucket": "archive", "blockPublicAcls": True, "ignorePublicAcls": True},
                ),
            ),
        ),
    )
)


# S3-002 ----------------------------------------------------------------------------------


def _principal_public(principal: Any) -> bool:
    if principal == "*":
        return True
    return isinstance(principal, Mapping) and "*" in as_list(principal.get("AWS"))


def _restricted(condition: Mapping[str, Any]) -> bool:
    return any(
        isinstance(block, Mapping) and any(str(k).lower() in RESTRICTING_KEYS for k in block)
        for block in condition.values()
    )


def _sid(document: Any, index: int) -> str:
    raw = as_list(document.get("Statement"))[index] if isinstance(document, Mapping) else None
    sid = raw.get("Sid") if isinstance(raw, Mapping) else None
    return sid if isinstance(sid, str) and sid else f"Statement[{index}]"


def _public_statements(document: Any, node: Node) -> Iterator[Finding]:
    for statement in statements(document, node) or []:
        public = statement.allow and _principal_public(statement.principal)
        if public and not _restricted(statement.condition):
            sid = _sid(document, statement.index)
            yield Finding(
                f"policy statement {sid} allows {', '.join(statement.actions) or 'actions'} "
                "to Principal * with no aws:SourceArn, SourceAccount, PrincipalOrgID or "
                "SourceVpce condition",
                detail=sid,
            )


def _grant_uris(node: Node) -> list[Any]:
    if node.type in BUCKETS:
        grants = node.get("grants")
        return [g.get("uri") for g in as_list(grants) if isinstance(g, Mapping)]
    grants = node.get("accessControlPolicy.grants")
    uris = []
    for grant in as_list(grants) if isinstance(grants, list) else []:
        grantee = grant.get("grantee") if isinstance(grant, Mapping) else None
        if isinstance(grantee, Mapping):
            uris.append(grantee.get("uri"))
    return uris


def _no_public_grants(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    if node.type != BUCKET_POLICY:
        acl = node.get("acl")
        if acl in PUBLIC_ACLS:
            yield Finding(f"canned ACL is {acl}", detail="acl")
        for uri in _grant_uris(node):
            if uri in PUBLIC_GROUPS:
                yield Finding(f"ACL grants access to {uri.rsplit('/', 1)[-1]}", detail="acl")
    if node.type in (BUCKET_POLICY, *BUCKETS):
        value = node.get("policy")
        if value != "":
            yield from _public_statements(parse_json(value), node)


def _policy(*statements_: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements_)})


PUBLIC_READ = {
    "Sid": "PublicRead",
    "Effect": "Allow",
    "Principal": "*",
    "Action": "s3:GetObject",
    "Resource": "arn:aws:s3:::site/*",
}
CLOUDFRONT_READ = {
    **PUBLIC_READ,
    "Sid": "CloudFrontRead",
    "Principal": {"Service": "cloudfront.amazonaws.com"},
}
SOURCE_SCOPED = {
    **PUBLIC_READ,
    "Sid": "LogDelivery",
    "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}},
}

register(
    Rule(
        id="S3-002",
        name="s3-no-public-grants",
        title="Buckets grant nothing to the public through ACLs or policies",
        description=(
            "An ACL of public-read, public-read-write or authenticated-read (canned or as a "
            "grant) is a finding; so is a policy Allow to Principal * without an aws:SourceArn, "
            "aws:SourceAccount, aws:PrincipalOrgID or aws:SourceVpce condition."
        ),
        severity="HIGH",
        pillar="SEC",
        scope="resource",
        types=(ACL, ACL_V2, BUCKET, BUCKET_V2, BUCKET_POLICY),
        reads={
            ACL: ("acl", "accessControlPolicy.grants"),
            ACL_V2: ("acl", "accessControlPolicy.grants"),
            BUCKET: ("acl", "grants", "policy"),
            BUCKET_V2: ("acl", "grants", "policy"),
            BUCKET_POLICY: ("policy",),
        },
        anchors=anchors(
            cdk_nag="S3BucketPublicReadProhibited, S3BucketPublicWriteProhibited",
            checkov="CKV_AWS_20, CKV_AWS_57",
        ),
        knob="",
        raw="acl='private' / policy",
        check=_no_public_grants,
        remediation=(
            "Raw: drop the public canned ACL (aws.s3.BucketOwnershipControls with "
            "BucketOwnerEnforced) and scope policy statements to a principal or a "
            "aws:SourceArn / aws:SourceAccount condition; serve public content through "
            "CloudFront with origin access control."
        ),
        examples=Examples(
            compliant=(
                case(ACL, {"bucket": "archive", "acl": "private"}),
                case(BUCKET, {"bucket": "archive"}),
                case(BUCKET_POLICY, {"bucket": "site", "policy": _policy(CLOUDFRONT_READ)}),
                case(BUCKET_POLICY, {"bucket": "site", "policy": _policy(SOURCE_SCOPED)}),
            ),
            non_compliant=(
                case(ACL, {"bucket": "archive", "acl": "public-read"}),
                case(ACL_V2, {"bucket": "archive", "acl": "authenticated-read"}),
                case(BUCKET, {"bucket": "archive", "acl": "public-read-write"}),
                case(BUCKET_V2, {"bucket": "archive", "acl": "public-read"}),
                case(
                    ACL,
                    {
                        "bucket": "archive",
                        "accessControlPolicy": {
                            "owner": {"id": "owner"},
                            "grants": [
                                {
                                    "permission": "READ",
                                    "grantee": {"type": "Group", "uri": PUBLIC_GROUPS[0]},
                                }
                            ],
                        },
                    },
                ),
                case(BUCKET_POLICY, {"bucket": "site", "policy": _policy(PUBLIC_READ)}),
                case(
                    BUCKET_POLICY,
                    {
                        "bucket": "site",
                        "policy": _policy({**PUBLIC_READ, "Principal": {"AWS": ["*"]}}),
                    },
                ),
            ),
        ),
    )
)


# S3-003 ----------------------------------------------------------------------------------


def _has_public_access_block(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    blocks, unresolved = attached(graph, (PUBLIC_ACCESS_BLOCK,))
    for bucket in graph.of_type(*BUCKETS):
        if bucket.urn in blocks or _unlinked(bucket, unresolved):
            continue
        yield Finding("bucket has no BucketPublicAccessBlock", urn=bucket.urn)


register(
    Rule(
        id="S3-003",
        name="s3-bucket-has-public-access-block",
        title="Every bucket has its own public access block",
        description=(
            "Each bucket has a BucketPublicAccessBlock (through bucket dependencies, else by "
            "name), as a guard against account-level setting changes."
        ),
        severity="MEDIUM",
        pillar="SEC",
        scope="stack",
        types=(*BUCKETS, PUBLIC_ACCESS_BLOCK),
        reads={BUCKET: ("bucket",), BUCKET_V2: ("bucket",), PUBLIC_ACCESS_BLOCK: ("bucket",)},
        anchors=anchors(checkov="CKV2_AWS_6"),
        knob="",
        raw="aws.s3.BucketPublicAccessBlock(bucket=bucket.id, ...)",
        check=_has_public_access_block,
        remediation=(
            "Raw: aws.s3.BucketPublicAccessBlock(name, bucket=bucket.id, block_public_acls=True, "
            "block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True)."
        ),
        examples=Examples(
            compliant=(
                stack_case(
                    _bucket("archive"),
                    _sub(PUBLIC_ACCESS_BLOCK, "block", "archive", **STRICT),
                    subject="archive",
                ),
                stack_case(
                    _bucket("archive"),
                    _sub(PUBLIC_ACCESS_BLOCK, "block", "archive", linked=False, **STRICT),
                    subject="archive",
                ),
            ),
            non_compliant=(
                stack_case(_bucket("archive"), subject="archive"),
                stack_case(
                    _bucket("archive"),
                    _bucket("logs"),
                    _sub(PUBLIC_ACCESS_BLOCK, "block", "logs", **STRICT),
                    subject="archive",
                ),
                stack_case(
                    Resource(BUCKET_V2, "archive", {"bucket": "archive"}),
                    _bucket("logs"),
                    _sub(PUBLIC_ACCESS_BLOCK, "block", "logs", linked=False, **STRICT),
                    subject="archive",
                ),
            ),
        ),
    )
)


# S3-004 ----------------------------------------------------------------------------------


def _denies_plain_http(document: Any, node: Node) -> bool:
    for statement in statements(document, node) or []:
        if statement.effect != "Deny" or not _principal_public(statement.principal):
            continue
        if not any(action_matches(a, "s3:*") or a == "*" for a in statement.actions):
            continue
        for operator, block in statement.condition.items():
            if not (str(operator).startswith("Bool") and isinstance(block, Mapping)):
                continue
            for key, value in block.items():
                values = {str(v).lower() for v in as_list(value)}
                if str(key).lower() == "aws:securetransport" and values == {"false"}:
                    return True
    return False


def _tls_only(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    policies, unresolved = attached(graph, (BUCKET_POLICY,))
    for bucket in graph.of_type(*BUCKETS):
        linked = policies.get(bucket.urn, [])
        documents = [(parse_json(p.get("policy")), p) for p in linked if p.get("policy") != ""]
        if bucket.get("policy") not in (ABSENT, ""):
            documents.append((parse_json(bucket.get("policy")), bucket))
        if any(_denies_plain_http(document, source) for document, source in documents):
            continue
        if any(d is UNKNOWN or d is INVALID for d, _ in documents):
            continue
        if not linked and _unlinked(bucket, unresolved):
            continue
        problem = "bucket policy does not" if documents else "bucket has no policy that would"
        yield Finding(f"{problem} deny requests with aws:SecureTransport false", urn=bucket.urn)


TLS_DENY = {
    "Sid": "DenyInsecureTransport",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": ["arn:aws:s3:::archive", "arn:aws:s3:::archive/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}
READ_ROLE = {
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::123456789012:role/reader"},
    "Action": "s3:GetObject",
    "Resource": "arn:aws:s3:::archive/*",
}

register(
    Rule(
        id="S3-004",
        name="s3-tls-only",
        title="Bucket policies deny plain-HTTP requests",
        description=(
            "The bucket policy (BucketPolicy or the bucket's own policy) denies s3:* to "
            "Principal * when aws:SecureTransport is false."
        ),
        severity="MEDIUM",
        pillar="SEC",
        scope="stack",
        types=(*BUCKETS, BUCKET_POLICY),
        reads={
            BUCKET: ("bucket", "policy"),
            BUCKET_V2: ("bucket", "policy"),
            BUCKET_POLICY: ("bucket", "policy"),
        },
        anchors=anchors(cdk_nag="AwsSolutions-S10"),
        knob="",
        raw="aws.s3.BucketPolicy (Deny s3:* when aws:SecureTransport is false)",
        check=_tls_only,
        remediation=(
            "Raw: aws.s3.BucketPolicy(name, bucket=bucket.id, policy=<a Deny of s3:* to "
            "Principal * on the bucket and bucket/* with Condition Bool aws:SecureTransport "
            "false>). Component: core.bucket.PrivateBucket (or tls_only_policy(bucket.arn))."
        ),
        examples=Examples(
            compliant=(
                stack_case(
                    _bucket("archive"),
                    _sub(BUCKET_POLICY, "policy", "archive", policy=_policy(READ_ROLE, TLS_DENY)),
                    subject="archive",
                ),
                stack_case(
                    _bucket("archive"),
                    _sub(
                        BUCKET_POLICY, "policy", "archive", linked=False, policy=_policy(TLS_DENY)
                    ),
                    subject="archive",
                ),
                stack_case(_bucket("archive", policy=_policy(TLS_DENY)), subject="archive"),
            ),
            non_compliant=(
                stack_case(_bucket("archive"), subject="archive"),
                stack_case(
                    _bucket("archive"),
                    _sub(BUCKET_POLICY, "policy", "archive", policy=_policy(READ_ROLE)),
                    subject="archive",
                ),
                stack_case(
                    _bucket("archive"),
                    _sub(
                        BUCKET_POLICY,
                        "policy",
                        "archive",
                        linked=False,
                        policy=_policy(
                            {**TLS_DENY, "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
                        ),
                    ),
                    subject="archive",
                ),
            ),
        ),
    )
)


# S3-005 ----------------------------------------------------------------------------------


def _inline(bucket: Node, v1: str, v2: str, field: str) -> list[Any]:
    """Values of an inline setting: `Bucket.<v1>.<field>` or `BucketV2.<v2>[].<field>`;
    [UNKNOWN] when the block is unknown."""
    if bucket.type == BUCKET:
        value = bucket.get(f"{v1}.{field}")
        return [] if value is ABSENT else [value]
    blocks = bucket.get(v2)
    if blocks is UNKNOWN:
        return [UNKNOWN]
    return [b.get(field, ABSENT) for b in as_list(blocks) if isinstance(b, Mapping)]


def _versioning(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    configs, unresolved = attached(graph, VERSIONING)
    for bucket in graph.of_type(*BUCKETS):
        if ephemeral(bucket) is not False:
            continue
        linked = configs.get(bucket.urn, [])
        if linked:
            statuses = [n.get("versioningConfiguration.status") for n in linked]
            if "Enabled" in statuses or UNKNOWN in statuses:
                continue
            shown = ", ".join(str(s) for s in statuses if known(s)) or "absent"
            yield Finding(f"versioning status is {shown}, not Enabled", urn=bucket.urn)
            continue
        inline = _inline(bucket, "versioning", "versionings", "enabled")
        if True in inline or UNKNOWN in inline or _unlinked(bucket, unresolved):
            continue
        yield Finding("bucket has no BucketVersioning with status Enabled", urn=bucket.urn)


register(
    Rule(
        id="S3-005",
        name="s3-versioning",
        title="Buckets keep object versions",
        description=(
            "Buckets not tagged wa:data=ephemeral have a BucketVersioning with "
            "versioningConfiguration.status Enabled (or inline versioning enabled)."
        ),
        severity="LOW",
        pillar="REL",
        scope="stack",
        types=(*BUCKETS, *VERSIONING),
        reads={
            BUCKET: ("bucket", "versioning.enabled", "tags", "tagsAll"),
            BUCKET_V2: ("bucket", "versionings", "tags", "tagsAll"),
            **{t: ("bucket", "versioningConfiguration.status") for t in VERSIONING},
        },
        anchors=anchors(checkov="CKV_AWS_21"),
        knob="",
        raw="aws.s3.BucketVersioning(versioning_configuration={'status': 'Enabled'})",
        check=_versioning,
        remediation=(
            "Raw: aws.s3.BucketVersioning(name, bucket=bucket.id, versioning_configuration="
            "aws.s3.BucketVersioningVersioningConfigurationArgs(status='Enabled')), with a "
            "noncurrent-version expiration in the lifecycle rules."
        ),
        examples=Examples(
            compliant=(
                stack_case(
                    _bucket("archive"),
                    _sub(
                        VERSIONING[0],
                        "versioning",
                        "archive",
                        versioningConfiguration={"status": "Enabled"},
                    ),
                    subject="archive",
                ),
                stack_case(
                    _bucket("archive"),
                    _sub(
                        VERSIONING[1],
                        "versioning",
                        "archive",
                        linked=False,
                        versioningConfiguration={"status": "Enabled"},
                    ),
                    subject="archive",
                ),
                stack_case(_bucket("scratch", tags={DATA_TAG: "ephemeral"}), subject="scratch"),
            ),
            non_compliant=(
                stack_case(_bucket("archive"), subject="archive"),
                stack_case(_bucket("archive", versioning={"enabled": False}), subject="archive"),
                stack_case(
                    _bucket("archive"),
                    _sub(
                        VERSIONING[0],
                        "versioning",
                        "archive",
                        versioningConfiguration={"status": "Suspended"},
                    ),
                    subject="archive",
                ),
                stack_case(
                    _bucket("archive"),
                    _sub(
                        VERSIONING[1],
                        "versioning",
                        "archive",
                        linked=False,
                        versioningConfiguration={"status": "Disabled"},
                    ),
                    subject="archive",
                ),
            ),
        ),
    )
)


# S3-006 ----------------------------------------------------------------------------------


def _access_logging(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    configs, unresolved = attached(graph, LOGGING)
    targets: set[str] = set()
    for node in graph.of_type(*LOGGING):
        target, resolved = bucket_of(graph, node, "targetBucket")
        if target is not None:
            targets.add(target.urn)
        unresolved = unresolved or not resolved
    for bucket in graph.of_type(*BUCKETS):
        if bucket.urn in configs or bucket.urn in targets:
            continue
        inline = _inline(bucket, "logging", "loggings", "targetBucket")
        if any(v is UNKNOWN or (isinstance(v, str) and v) for v in inline):
            continue
        if _unlinked(bucket, unresolved):
            continue
        yield Finding("bucket has no BucketLogging for server access logs", urn=bucket.urn)


register(
    Rule(
        id="S3-006",
        name="s3-access-logging",
        title="Buckets write server access logs",
        description=(
            "Each bucket has a BucketLogging, except buckets that are themselves a "
            "BucketLogging's targetBucket."
        ),
        severity="LOW",
        pillar="SEC",
        scope="stack",
        enabled=False,
        types=(*BUCKETS, *LOGGING),
        reads={
            BUCKET: ("bucket", "logging.targetBucket"),
            BUCKET_V2: ("bucket", "loggings"),
            **{t: ("bucket", "targetBucket") for t in LOGGING},
        },
        anchors=anchors(
            awsguard="s3-bucket-logging-enabled", cdk_nag="AwsSolutions-S1", checkov="CKV_AWS_18"
        ),
        knob="",
        raw="aws.s3.BucketLogging(bucket=..., target_bucket=...)",
        check=_access_logging,
        remediation=(
            "Raw: aws.s3.BucketLogging(name, bucket=bucket.id, target_bucket=logs.id, "
            "target_prefix='s3/<bucket>/')."
        ),
        examples=Examples(
            compliant=(
                stack_case(
                    _bucket("archive"),
                    _bucket("logs"),
                    Resource(
                        LOGGING[0],
                        "logging",
                        {"bucket": "archive", "targetBucket": "logs", "targetPrefix": "s3/"},
                        depends={"bucket": ("archive",), "targetBucket": ("logs",)},
                    ),
                    subject="archive",
                ),
                stack_case(
                    _bucket("archive"),
                    _bucket("logs"),
                    Resource(
                        LOGGING[1],
                        "logging",
                        {"bucket": "archive", "targetBucket": "logs", "targetPrefix": "s3/"},
                    ),
                    subject="logs",
                ),
            ),
            non_compliant=(
                stack_case(_bucket("archive"), subject="archive"),
                stack_case(
                    _bucket("archive"),
                    _bucket("other"),
                    _bucket("logs"),
                    Resource(
                        LOGGING[0],
                        "logging",
                        {"bucket": "other", "targetBucket": "logs", "targetPrefix": "s3/"},
                        depends={"bucket": ("other",), "targetBucket": ("logs",)},
                    ),
                    subject="archive",
                ),
            ),
        ),
    )
)


# S3-007 ----------------------------------------------------------------------------------


def _algorithms(node: Node) -> list[Any]:
    rules = node.get("rules")
    if rules is UNKNOWN:
        return [UNKNOWN]
    found = []
    for rule in as_list(rules) if isinstance(rules, list) else []:
        default = (
            rule.get("applyServerSideEncryptionByDefault") if isinstance(rule, Mapping) else None
        )
        if default is UNKNOWN:
            found.append(UNKNOWN)
        elif isinstance(default, Mapping):
            found.append(default.get("sseAlgorithm", ABSENT))
    return found


def _inline_algorithms(bucket: Node) -> list[Any]:
    if bucket.type == BUCKET:
        value = bucket.get(
            "serverSideEncryptionConfiguration.rule.applyServerSideEncryptionByDefault.sseAlgorithm"
        )
        return [] if value is ABSENT else [value]
    blocks = bucket.get("serverSideEncryptionConfigurations")
    if blocks is UNKNOWN:
        return [UNKNOWN]
    found = []
    for block in as_list(blocks) if isinstance(blocks, list) else []:
        for rule in as_list(block.get("rules")) if isinstance(block, Mapping) else []:
            defaults = (
                rule.get("applyServerSideEncryptionByDefaults")
                if isinstance(rule, Mapping)
                else None
            )
            for default in as_list(defaults) if isinstance(defaults, list) else []:
                if isinstance(default, Mapping):
                    found.append(default.get("sseAlgorithm", ABSENT))
    return found


def _kms_encryption(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    configs, unresolved = attached(graph, ENCRYPTION)
    for bucket in graph.of_type(*BUCKETS):
        linked = configs.get(bucket.urn, [])
        if not linked and _unlinked(bucket, unresolved):
            continue
        algorithms = (
            [a for n in linked for a in _algorithms(n)] if linked else _inline_algorithms(bucket)
        )
        if UNKNOWN in algorithms or any(a in KMS_ALGORITHMS for a in algorithms):
            continue
        shown = ", ".join(str(a) for a in algorithms if isinstance(a, str)) or "SSE-S3 (AES256)"
        yield Finding(f"default encryption is {shown}, not aws:kms or aws:kms:dsse", urn=bucket.urn)


def _encryption(type_: str, algorithm: str, linked: bool = True) -> Resource:
    return _sub(
        type_,
        "encryption",
        "archive",
        linked=linked,
        rules=[{"applyServerSideEncryptionByDefault": {"sseAlgorithm": algorithm}}],
    )


register(
    Rule(
        id="S3-007",
        name="s3-kms-encryption",
        title="Buckets encrypt by default with KMS",
        description=(
            "rules[].applyServerSideEncryptionByDefault.sseAlgorithm is aws:kms or "
            "aws:kms:dsse; absent = SSE-S3, which is always on."
        ),
        severity="LOW",
        pillar="SEC",
        scope="stack",
        enabled=False,
        types=(*BUCKETS, *ENCRYPTION),
        reads={
            BUCKET: (
                "bucket",
                "serverSideEncryptionConfiguration.rule.applyServerSideEncryptionByDefault"
                ".sseAlgorithm",
            ),
            BUCKET_V2: ("bucket", "serverSideEncryptionConfigurations"),
            **{t: ("bucket", "rules") for t in ENCRYPTION},
        },
        anchors=anchors(checkov="CKV_AWS_145"),
        knob="kms_key_arn",
        raw="aws.s3.BucketServerSideEncryptionConfiguration(sse_algorithm='aws:kms')",
        check=_kms_encryption,
        remediation=(
            "Raw: aws.s3.BucketServerSideEncryptionConfiguration(name, bucket=bucket.id, rules=["
            "{'apply_server_side_encryption_by_default': {'sse_algorithm': 'aws:kms', "
            "'kms_master_key_id': key.arn}, 'bucket_key_enabled': True}]). Component: "
            "TableArchive(kms_key_arn=...)."
        ),
        examples=Examples(
            compliant=(
                stack_case(
                    _bucket("archive"), _encryption(ENCRYPTION[0], "aws:kms"), subject="archive"
                ),
                stack_case(
                    _bucket("archive"),
                    _encryption(ENCRYPTION[1], "aws:kms:dsse", linked=False),
                    subject="archive",
                ),
            ),
            non_compliant=(
                stack_case(_bucket("archive"), subject="archive"),
                stack_case(
                    _bucket("archive"), _encryption(ENCRYPTION[0], "AES256"), subject="archive"
                ),
                stack_case(
                    _bucket("archive"),
                    _encryption(ENCRYPTION[1], "AES256", linked=False),
                    subject="archive",
                ),
            ),
        ),
    )
)
