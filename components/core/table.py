"""DynamoDB table defaults: on-demand, PITR, encryption; ephemeral tables get TTL instead."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi_aws as aws

from . import defaults
from .scope import Scope

KEY_TYPES = ("S", "N", "B")
# What `create_table` hardens, as a warning lists it when a pattern is given a table instead.
TABLE_DEFAULTS = (
    "on-demand billing",
    "point-in-time recovery",
    "server-side encryption",
    "deletion protection in prod",
)
EPHEMERAL_TABLE_DEFAULTS = ("on-demand billing", "server-side encryption", "TTL on expiry")


@dataclass(frozen=True, kw_only=True)
class TableSpec:
    """hash_key / range_key: (name, type) with type in S, N, B.

    ephemeral: sessions, tokens, connections: TTL on `ttl_attribute`, no PITR, tagged
      `wa:data=ephemeral` so the policy pack expects TTL rather than backups.
    stream_view_type: turns the stream on (NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES, KEYS_ONLY).
    """

    hash_key: tuple[str, str]
    range_key: tuple[str, str] | None = None
    ephemeral: bool = False
    ttl_attribute: str = defaults.TTL_ATTRIBUTE
    stream_view_type: str | None = None
    extra_attributes: Sequence[tuple[str, str]] = field(default_factory=tuple)
    # index name -> its partition key (name, type); projection ALL, on-demand like the table.
    global_indexes: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    # index name -> its sort key (name, type), for indexes of global_indexes that have one.
    index_sort_keys: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, kind in (self.hash_key, *(k for k in [self.range_key] if k)):
            if kind not in KEY_TYPES:
                raise ValueError(f"key {name!r} type must be one of {', '.join(KEY_TYPES)}")
        for index, (name, kind) in self.global_indexes.items():
            if kind not in KEY_TYPES:
                raise ValueError(
                    f"index {index!r} key {name!r} type must be one of {', '.join(KEY_TYPES)}"
                )
        for index, (name, kind) in self.index_sort_keys.items():
            if index not in self.global_indexes:
                raise ValueError(f"index_sort_keys names {index!r}, which is not in global_indexes")
            if kind not in KEY_TYPES:
                raise ValueError(
                    f"index {index!r} sort key {name!r} type must be one of {', '.join(KEY_TYPES)}"
                )
        views = ("NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY")
        if self.stream_view_type is not None and self.stream_view_type not in views:
            raise ValueError(f"stream_view_type must be one of {', '.join(views)}")


def create_table(scope: Scope, suffix: str, spec: TableSpec) -> aws.dynamodb.Table:
    keys = [spec.hash_key, *([spec.range_key] if spec.range_key else []), *spec.extra_attributes]
    for key in [*spec.global_indexes.values(), *spec.index_sort_keys.values()]:
        if key not in keys:
            keys.append(key)
    tags = scope.tags
    if spec.ephemeral:
        tags[defaults.TAG_DATA] = "ephemeral"
    production = scope.settings.production
    return aws.dynamodb.Table(
        scope.child(suffix),
        name=scope.physical(suffix, max_length=255),
        billing_mode=defaults.BILLING_MODE,
        hash_key=spec.hash_key[0],
        range_key=spec.range_key[0] if spec.range_key else None,
        attributes=[aws.dynamodb.TableAttributeArgs(name=n, type=t) for n, t in keys],
        point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(
            enabled=not spec.ephemeral
        ),
        server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True),
        ttl=(
            aws.dynamodb.TableTtlArgs(attribute_name=spec.ttl_attribute, enabled=True)
            if spec.ephemeral
            else None
        ),
        global_secondary_indexes=[
            aws.dynamodb.TableGlobalSecondaryIndexArgs(
                name=index,
                key_schemas=_index_key_schemas(key, spec.index_sort_keys.get(index)),
                projection_type="ALL",
            )
            for index, key in spec.global_indexes.items()
        ]
        or None,
        stream_enabled=spec.stream_view_type is not None,
        stream_view_type=spec.stream_view_type,
        deletion_protection_enabled=production and not spec.ephemeral,
        tags=tags,
        opts=scope.opts(),
    )


def _index_key_schemas(
    hash_key: tuple[str, str], range_key: tuple[str, str] | None
) -> list[aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs]:
    keys = [(hash_key[0], "HASH"), *([(range_key[0], "RANGE")] if range_key else [])]
    return [
        aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(attribute_name=name, key_type=kind)
        for name, kind in keys
    ]
