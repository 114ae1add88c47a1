"""A Glue table over JSON lines in S3, partitioned Hive-style, with partition projection.

Patterns that land data in S3 (`table-archive`, `cdc-data-lake`) make the same kind of table:
newline-delimited JSON read by the OpenX SerDe, `key=value` partition folders under one
location, and projection over them so Athena needs no crawler and no `MSCK REPAIR`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

import pulumi
import pulumi_aws as aws

from .scope import Scope

PROJECTION_YEARS: Final = 30  # years the projection covers from its start year
# Projection of each time partition: (range, digits).
TIME_PARTITIONS: Final = {
    "year": None,  # from the start year, PROJECTION_YEARS on
    "month": ("1,12", "2"),
    "day": ("1,31", "2"),
    "hour": ("0,23", "2"),
}


def projection_parameters(
    location: str, start_year: int, partitions: Sequence[str], *, gzip: bool
) -> dict[str, str]:
    """Glue table parameters: partition projection over `partitions` (time parts, in the
    order of the key layout) under `location`."""
    template = location.rstrip("/") + "/" + "/".join(f"{p}=${{{p}}}" for p in partitions)
    parameters = {"EXTERNAL": "TRUE", "classification": "json"}
    if gzip:
        parameters["compressionType"] = "gzip"
    parameters["projection.enabled"] = "true"
    for partition in partitions:
        parameters[f"projection.{partition}.type"] = "integer"
        projected = TIME_PARTITIONS[partition]
        if projected is None:
            parameters[f"projection.{partition}.range"] = (
                f"{start_year},{start_year + PROJECTION_YEARS}"
            )
        else:
            parameters[f"projection.{partition}.range"] = projected[0]
            parameters[f"projection.{partition}.digits"] = projected[1]
    parameters["storage.location.template"] = template
    return parameters


class JsonLinesTable:
    """The database (unless an existing one is given) and the table, children of the scope.

    `columns`: (name, Glue type, comment). `compressed`: the objects are compressed (gzip
    also sets the `compressionType` Athena reads).
    """

    def __init__(
        self,
        scope: Scope,
        *,
        database: str | aws.glue.CatalogDatabase | None,
        database_description: str,
        table_suffix: str,
        description: str,
        location: pulumi.Output[str],
        partitions: Sequence[str],
        columns: Sequence[tuple[str, str, str]],
        start_year: int,
        compressed: bool = True,
        gzip: bool = True,
    ) -> None:
        self.database: aws.glue.CatalogDatabase | None = None
        if isinstance(database, aws.glue.CatalogDatabase):
            chosen = database
        else:
            chosen = aws.glue.CatalogDatabase(
                scope.child("glue-database"),
                name=database,
                description=database_description,
                tags=scope.tags,
                opts=scope.opts(),
            )
            self.database = chosen
        self.table = aws.glue.CatalogTable(
            scope.child("glue-table"),
            name=re.sub(r"[^a-z0-9_]", "_", scope.physical(table_suffix, max_length=255).lower()),
            database_name=chosen.name,
            table_type="EXTERNAL_TABLE",
            description=description,
            parameters=location.apply(
                lambda loc: projection_parameters(loc, start_year, partitions, gzip=gzip)
            ),
            partition_keys=[
                aws.glue.CatalogTablePartitionKeyArgs(name=p, type="string") for p in partitions
            ],
            storage_descriptor=aws.glue.CatalogTableStorageDescriptorArgs(
                location=location,
                input_format="org.apache.hadoop.mapred.TextInputFormat",
                output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                compressed=compressed,
                ser_de_info=aws.glue.CatalogTableStorageDescriptorSerDeInfoArgs(
                    serialization_library="org.openx.data.jsonserde.JsonSerDe"
                ),
                columns=[
                    aws.glue.CatalogTableStorageDescriptorColumnArgs(
                        name=name, type=kind, comment=comment
                    )
                    for name, kind, comment in columns
                ],
            ),
            opts=scope.opts(),
        )
