"""DynamoDB rules.

Tables tagged `wa:data=ephemeral` (sessions, tokens, connections) need TTL instead of
point-in-time recovery and deletion protection.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from serverless_wa.graph import Graph, Node
from serverless_wa.props import UNKNOWN, as_list, known, parse_json
from serverless_wa.registry import Examples, Finding, Resource, Rule, anchors, register
from serverless_wa.rules._common import (
    DATA_TAG,
    ESM,
    PIPE,
    TABLE,
    arn,
    case,
    ephemeral,
    stack_case,
)

SCALING_TARGET = "aws:appautoscaling/target:Target"
EPHEMERAL = {"tags": {DATA_TAG: "ephemeral"}}
TAG_READS = ("tags", "tagsAll")


# DDB-001 ---------------------------------------------------------------------------------


def _pitr(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    if ephemeral(node) is not False:
        return
    enabled = node.get("pointInTimeRecovery.enabled")
    if enabled is UNKNOWN or enabled is True:
        return
    yield Finding(f"point-in-time recovery is {'off' if known(enabled) else 'absent (off)'}")


register(
    Rule(
        id="DDB-001",
        name="dynamodb-pitr",
        title="DynamoDB tables have point-in-time recovery",
        description=(
            "pointInTimeRecovery.enabled absent or false is a finding; tables tagged "
            "wa:data=ephemeral are not applicable."
        ),
        severity="MEDIUM",
        pillar="REL",
        scope="resource",
        types=(TABLE,),
        reads={TABLE: ("pointInTimeRecovery.enabled", *TAG_READS)},
        anchors=anchors(cdk_nag="AwsSolutions-DDB3, DynamoDBPITREnabled", checkov="CKV_AWS_28"),
        knob="ephemeral=False",
        raw="point_in_time_recovery.enabled=True",
        check=_pitr,
        remediation=(
            "Raw: aws.dynamodb.Table(..., point_in_time_recovery="
            "aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True)). Component: tables from "
            "create_table have PITR unless TableSpec(ephemeral=True)."
        ),
        examples=Examples(
            compliant=(
                case(TABLE, {"pointInTimeRecovery": {"enabled": True}}),
                case(TABLE, {**EPHEMERAL, "ttl": {"enabled": True, "attributeName": "expiresAt"}}),
            ),
            non_compliant=(
                case(TABLE, {}),
                case(TABLE, {"pointInTimeRecovery": {"enabled": False}}),
                case(TABLE, {"tags": {DATA_TAG: "durable"}}),
            ),
        ),
    )
)


# DDB-002 ---------------------------------------------------------------------------------

DIMENSIONS = ("ReadCapacityUnits", "WriteCapacityUnits")


def _index_names(table: Node) -> list[str] | None:
    """The table's GSI names; None when some are unknown."""
    indexes = table.get("globalSecondaryIndexes")
    if indexes is UNKNOWN:
        return None
    names = []
    for index in as_list(indexes) if isinstance(indexes, list) else []:
        name = index.get("name") if isinstance(index, Mapping) else None
        if name is UNKNOWN:
            return None
        if isinstance(name, str):
            names.append(name)
    return names


def _scaled(table: Node, name: str, targets: list[Node]) -> set[tuple[str, str]] | None:
    """(resourceId, scalableDimension) pairs autoscaled for `table`; None when a target
    may belong to it but which table or index it scales stays unknown."""
    covered: set[tuple[str, str]] = set()
    for target in targets:
        tables = [t for t in target.deps.get("resourceId", []) if t.type == TABLE]
        linked = table in tables
        if tables and not linked:
            continue  # another table's target
        resource, dimension = target.get("resourceId"), target.get("scalableDimension")
        if isinstance(resource, str):
            parts = resource.split("/")
            if not linked and parts[1:2] != [name]:
                continue
            if not isinstance(dimension, str):
                return None
            covered.add(("/".join(["table", name, *parts[2:]]), dimension))
        elif resource is UNKNOWN:
            if not linked or dimension not in {f"dynamodb:table:{d}" for d in DIMENSIONS}:
                return None  # unresolved, or an index of this table but unknown which
            covered.add((f"table/{name}", dimension))
    return covered


def _capacity_managed(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    targets = [
        t
        for t in graph.of_type(SCALING_TARGET)
        if t.get("serviceNamespace") in ("dynamodb", UNKNOWN)
    ]
    for table in graph.of_type(TABLE):
        mode = table.get("billingMode")
        if mode is UNKNOWN or mode == "PAY_PER_REQUEST":
            continue
        name, indexes = table.get("name"), _index_names(table)
        if not isinstance(name, str) or indexes is None:
            continue
        covered = _scaled(table, name, targets)
        if covered is None:
            continue
        required = [(f"table/{name}", f"dynamodb:table:{d}", f"table {d}") for d in DIMENSIONS]
        required += [
            (f"table/{name}/index/{i}", f"dynamodb:index:{d}", f"index {i} {d}")
            for i in indexes
            for d in DIMENSIONS
        ]
        missing = [label for resource, dim, label in required if (resource, dim) not in covered]
        if missing:
            shown = mode if known(mode) else "absent (PROVISIONED)"
            yield Finding(
                f"billing mode {shown} without application autoscaling for {', '.join(missing)}",
                urn=table.urn,
            )


def _target(name: str, resource: str, dimension: str, **depends: tuple[str, ...]) -> Resource:
    return Resource(
        SCALING_TARGET,
        name,
        {
            "serviceNamespace": "dynamodb",
            "resourceId": resource,
            "scalableDimension": dimension,
            "minCapacity": 1,
            "maxCapacity": 20,
        },
        depends=depends,
    )


ORDERS = {
    "name": "orders",
    "arn": arn("dynamodb", "table/orders"),
    "billingMode": "PROVISIONED",
    "globalSecondaryIndexes": [{"name": "byCustomer", "hashKey": "customer"}],
}


register(
    Rule(
        id="DDB-002",
        name="dynamodb-capacity-managed",
        title="DynamoDB tables are on-demand or autoscale provisioned capacity",
        description=(
            "billingMode PAY_PER_REQUEST passes; PROVISIONED (the provider default) needs "
            "application autoscaling targets for read and write capacity of the table and of "
            "each global secondary index."
        ),
        severity="MEDIUM",
        pillar="PERF",
        scope="stack",
        types=(TABLE, SCALING_TARGET),
        reads={
            TABLE: ("billingMode", "name", "globalSecondaryIndexes"),
            SCALING_TARGET: ("serviceNamespace", "resourceId", "scalableDimension"),
        },
        anchors=anchors(cdk_nag="DynamoDBAutoScalingEnabled", checkov="CKV2_AWS_16"),
        knob="",
        raw="billing_mode='PAY_PER_REQUEST'",
        check=_capacity_managed,
        remediation=(
            "Raw: aws.dynamodb.Table(..., billing_mode='PAY_PER_REQUEST'), or "
            "aws.appautoscaling.Target + Policy for each read and write dimension. Component: "
            "create_table uses PAY_PER_REQUEST."
        ),
        examples=Examples(
            compliant=(
                stack_case(
                    Resource(TABLE, "orders", {**ORDERS, "billingMode": "PAY_PER_REQUEST"}),
                    subject="orders",
                ),
                stack_case(
                    Resource(TABLE, "orders", ORDERS),
                    *(_target(f"t-{d}", "table/orders", f"dynamodb:table:{d}") for d in DIMENSIONS),
                    *(
                        _target(f"i-{d}", "table/orders/index/byCustomer", f"dynamodb:index:{d}")
                        for d in DIMENSIONS
                    ),
                    subject="orders",
                ),
                stack_case(
                    Resource(TABLE, "orders", {**ORDERS, "globalSecondaryIndexes": []}),
                    *(
                        _target(
                            f"t-{d}",
                            "table/orders",
                            f"dynamodb:table:{d}",
                            resourceId=("orders",),
                        )
                        for d in DIMENSIONS
                    ),
                    subject="orders",
                ),
            ),
            non_compliant=(
                stack_case(
                    Resource(TABLE, "orders", {"name": "orders"}),
                    subject="orders",
                ),
                stack_case(Resource(TABLE, "orders", ORDERS), subject="orders"),
                stack_case(
                    Resource(TABLE, "orders", ORDERS),
                    *(
                        _target(
                            f"t-{d}",
                            "table/orders",
                            f"dynamodb:table:{d}",
                            resourceId=("orders",),
                        )
                        for d in DIMENSIONS
                    ),
                    subject="orders",
                ),
                stack_case(
                    Resource(TABLE, "orders", {**ORDERS, "globalSecondaryIndexes": []}),
                    _target("t-read", "table/orders", "dynamodb:table:ReadCapacityUnits"),
                    subject="orders",
                ),
            ),
        ),
    )
)


# DDB-003 ---------------------------------------------------------------------------------


def _deletion_protection(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    if ephemeral(node) is not False:
        return
    enabled = node.get("deletionProtectionEnabled")
    if enabled is UNKNOWN or enabled is True:
        return
    yield Finding(f"deletion protection is {'off' if known(enabled) else 'absent (off)'}")


register(
    Rule(
        id="DDB-003",
        name="dynamodb-deletion-protection",
        title="DynamoDB tables have deletion protection",
        description=(
            "deletionProtectionEnabled absent or false on tables not tagged wa:data=ephemeral."
        ),
        severity="LOW",
        pillar="REL",
        scope="resource",
        types=(TABLE,),
        reads={TABLE: ("deletionProtectionEnabled", *TAG_READS)},
        anchors=anchors(),
        knob="environment='prod'",
        raw="deletion_protection_enabled=True",
        check=_deletion_protection,
        remediation=(
            "Raw: aws.dynamodb.Table(..., deletion_protection_enabled=True). Component: "
            "create_table turns it on in production stacks."
        ),
        examples=Examples(
            compliant=(
                case(TABLE, {"deletionProtectionEnabled": True}),
                case(TABLE, {**EPHEMERAL, "deletionProtectionEnabled": False}),
            ),
            non_compliant=(
                case(TABLE, {}),
                case(TABLE, {"deletionProtectionEnabled": False}),
            ),
        ),
    )
)


# DDB-004 ---------------------------------------------------------------------------------


def _ttl_ephemeral(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    if ephemeral(node) is not True:
        return
    enabled, attribute = node.get("ttl.enabled"), node.get("ttl.attributeName")
    if enabled is UNKNOWN or attribute is UNKNOWN:
        return
    if enabled is not True:
        yield Finding(f"ephemeral table has TTL {'off' if known(enabled) else 'absent (off)'}")
    elif not (isinstance(attribute, str) and attribute):
        yield Finding("ephemeral table enables TTL without an attribute name")


register(
    Rule(
        id="DDB-004",
        name="dynamodb-ttl-ephemeral",
        title="Ephemeral DynamoDB tables expire items with TTL",
        description="Tables tagged wa:data=ephemeral need ttl.enabled true with ttl.attributeName.",
        severity="LOW",
        pillar="COST",
        scope="resource",
        types=(TABLE,),
        reads={TABLE: ("ttl.enabled", "ttl.attributeName", *TAG_READS)},
        anchors=anchors(),
        knob="ephemeral=True / ttl_attribute",
        raw="ttl=aws.dynamodb.TableTtlArgs(enabled=True, attribute_name=...)",
        check=_ttl_ephemeral,
        remediation=(
            "Raw: aws.dynamodb.Table(..., ttl=aws.dynamodb.TableTtlArgs(enabled=True, "
            "attribute_name='expiresAt')). Component: TableSpec(ephemeral=True, "
            "ttl_attribute='expiresAt')."
        ),
        examples=Examples(
            compliant=(
                case(TABLE, {**EPHEMERAL, "ttl": {"enabled": True, "attributeName": "expiresAt"}}),
                case(TABLE, {}),
            ),
            non_compliant=(
                case(TABLE, EPHEMERAL),
                case(TABLE, {**EPHEMERAL, "ttl": {"enabled": False, "attributeName": "exp"}}),
                case(TABLE, {**EPHEMERAL, "ttl": {"enabled": True, "attributeName": ""}}),
            ),
        ),
    )
)


# DDB-005 ---------------------------------------------------------------------------------

IMAGES = {
    "NEW_IMAGE": {"NewImage"},
    "OLD_IMAGE": {"OldImage"},
    "NEW_AND_OLD_IMAGES": {"NewImage", "OldImage"},
}


def stream_table(graph: Graph, node: Node, prop: str) -> Node | None:
    """The table whose stream `node.prop` reads: a dependency on a table, else the known
    ARN matched to a table's streamArn or to the table name inside it."""
    linked = [t for t in node.deps.get(prop, []) if t.type == TABLE]
    if linked:
        return linked[0] if len(linked) == 1 else None
    value = node.get(prop)
    if not isinstance(value, str) or ":dynamodb:" not in value or "/stream/" not in value:
        return None
    tables = graph.of_type(TABLE)
    matches = [t for t in tables if t.get("streamArn") == value]
    if not matches:
        name = value.split(":table/", 1)[-1].split("/stream/", 1)[0]
        matches = [t for t in tables if t.get("name") == name]
    return matches[0] if len(matches) == 1 else None


def _images(pattern: Any) -> set[str]:
    """`NewImage` / `OldImage` where a filter pattern looks under `dynamodb`."""
    found: set[str] = set()
    if isinstance(pattern, Mapping):
        for key, value in pattern.items():
            if key == "dynamodb" and isinstance(value, Mapping):
                found |= {image for image in ("NewImage", "OldImage") if image in value}
            found |= _images(value)
    elif isinstance(pattern, list):
        for value in pattern:
            found |= _images(value)
    return found


def _filtered_images(filters: Any) -> set[str]:
    found: set[str] = set()
    for entry in filters if isinstance(filters, list) else []:
        if isinstance(entry, Mapping):
            found |= _images(parse_json(entry.get("pattern")))
    return found


def _stream_view_fits(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    consumers = [(m, "eventSourceArn", m.get("filterCriteria.filters")) for m in graph.of_type(ESM)]
    consumers += [
        (p, "source", p.get("sourceParameters.filterCriteria.filters")) for p in graph.of_type(PIPE)
    ]
    for consumer, prop, filters in consumers:
        wanted = _filtered_images(filters)
        if not wanted:
            continue
        table = stream_table(graph, consumer, prop)
        if table is None:
            continue
        view = table.get("streamViewType")
        if view is UNKNOWN:
            continue
        missing = sorted(wanted - IMAGES.get(view if isinstance(view, str) else "", set()))
        if missing:
            shown = view if known(view) else "absent"
            images = " and ".join(f"dynamodb.{m}" for m in missing)
            yield Finding(
                f"consumer {consumer.name} filters on {images}, but the stream view type is "
                f"{shown}, so the filter matches nothing",
                urn=table.urn,
                detail=consumer.name,
            )


STREAM_ARN = arn("dynamodb", "table/orders/stream/2026-01-01T00:00:00.000")
NEW_IMAGE_FILTER = {
    "filters": [{"pattern": '{"dynamodb": {"NewImage": {"status": {"S": ["PAID"]}}}}'}]
}
OLD_IMAGE_FILTER = {
    "filters": [{"pattern": '{"dynamodb": {"OldImage": {"status": {"S": ["NEW"]}}}}'}]
}


def _stream_table(view: str | None) -> Resource:
    props: dict[str, Any] = {"name": "orders", "arn": arn("dynamodb", "table/orders")}
    if view:
        props.update(streamEnabled=True, streamViewType=view, streamArn=STREAM_ARN)
    return Resource(TABLE, "orders", props)


register(
    Rule(
        id="DDB-005",
        name="dynamodb-stream-view-fits-filters",
        title="DynamoDB streams carry the images their consumers filter on",
        description=(
            "When a mapping's or pipe's filter pattern references dynamodb.NewImage or "
            "dynamodb.OldImage, the table's streamViewType must carry that image."
        ),
        severity="LOW",
        pillar="REL",
        scope="stack",
        types=(TABLE, ESM, PIPE),
        reads={
            TABLE: ("streamViewType", "streamArn", "name"),
            ESM: ("eventSourceArn", "filterCriteria.filters"),
            PIPE: ("source", "sourceParameters.filterCriteria.filters"),
        },
        anchors=anchors(),
        knob="stream_view_type",
        raw="stream_view_type='NEW_AND_OLD_IMAGES'",
        check=_stream_view_fits,
        remediation=(
            "Raw: aws.dynamodb.Table(..., stream_enabled=True, "
            "stream_view_type='NEW_AND_OLD_IMAGES'). Component: "
            "TableSpec(stream_view_type='NEW_AND_OLD_IMAGES')."
        ),
        examples=Examples(
            compliant=(
                stack_case(
                    _stream_table("NEW_IMAGE"),
                    Resource(
                        ESM,
                        "mapping",
                        {"filterCriteria": NEW_IMAGE_FILTER},
                        depends={"eventSourceArn": ("orders",)},
                    ),
                    subject="orders",
                ),
                stack_case(
                    _stream_table("NEW_AND_OLD_IMAGES"),
                    Resource(
                        PIPE,
                        "pipe",
                        {
                            "source": STREAM_ARN,
                            "sourceParameters": {"filterCriteria": OLD_IMAGE_FILTER},
                        },
                    ),
                    subject="orders",
                ),
                stack_case(
                    _stream_table("KEYS_ONLY"),
                    Resource(
                        ESM,
                        "mapping",
                        {"filterCriteria": {"filters": [{"pattern": '{"eventName": ["INSERT"]}'}]}},
                        depends={"eventSourceArn": ("orders",)},
                    ),
                    subject="orders",
                ),
            ),
            non_compliant=(
                stack_case(
                    _stream_table("KEYS_ONLY"),
                    Resource(
                        ESM,
                        "mapping",
                        {"filterCriteria": NEW_IMAGE_FILTER},
                        depends={"eventSourceArn": ("orders",)},
                    ),
                    subject="orders",
                ),
                stack_case(
                    _stream_table("NEW_IMAGE"),
                    Resource(
                        PIPE,
                        "pipe",
                        {
                            "source": STREAM_ARN,
                            "sourceParameters": {"filterCriteria": OLD_IMAGE_FILTER},
                        },
                    ),
                    subject="orders",
                ),
                stack_case(
                    _stream_table("OLD_IMAGE"),
                    Resource(
                        ESM,
                        "mapping",
                        {"eventSourceArn": STREAM_ARN, "filterCriteria": NEW_IMAGE_FILTER},
                    ),
                    subject="orders",
                ),
            ),
        ),
    )
)


# DDB-006 ---------------------------------------------------------------------------------


def _cmk(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    enabled = node.get("serverSideEncryption.enabled")
    key = node.get("serverSideEncryption.kmsKeyArn")
    if enabled is UNKNOWN:
        return
    if enabled is not True:
        yield Finding("encryption uses the AWS owned key, not a customer-managed KMS key")
    elif key is not UNKNOWN and not (isinstance(key, str) and key):
        yield Finding(
            "encryption uses the AWS managed key (no kmsKeyArn), not a customer-managed key"
        )


register(
    Rule(
        id="DDB-006",
        name="dynamodb-cmk",
        title="DynamoDB tables encrypt with a customer-managed KMS key",
        description=(
            "serverSideEncryption.enabled absent or false, or kmsKeyArn absent, is a finding. "
            "Encryption at rest is always on; this rule asks for a customer-managed key."
        ),
        severity="LOW",
        pillar="SEC",
        scope="resource",
        enabled=False,
        types=(TABLE,),
        reads={TABLE: ("serverSideEncryption.enabled", "serverSideEncryption.kmsKeyArn")},
        anchors=anchors(checkov="CKV_AWS_119", awsguard="dynamodb-table-encryption-enabled"),
        knob="",
        raw="server_side_encryption.kms_key_arn",
        check=_cmk,
        remediation=(
            "Raw: aws.dynamodb.Table(..., server_side_encryption="
            "aws.dynamodb.TableServerSideEncryptionArgs(enabled=True, kms_key_arn=key.arn))."
        ),
        examples=Examples(
            compliant=(
                case(
                    TABLE,
                    {
                        "serverSideEncryption": {
                            "enabled": True,
                            "kmsKeyArn": arn("kms", "key/1234abcd"),
                        }
                    },
                ),
            ),
            non_compliant=(
                case(TABLE, {}),
                case(TABLE, {"serverSideEncryption": {"enabled": False}}),
                case(TABLE, {"serverSideEncryption": {"enabled": True}}),
            ),
        ),
    )
)
