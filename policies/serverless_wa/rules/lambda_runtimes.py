"""Lambda runtime lifecycle data for LAMBDA-004, LAMBDA-005 and LAMBDA-017.

One entry per `pulumi_aws.lambda_.Runtime` value (a test keeps the two in step): the date
AWS deprecates the runtime, the dates it blocks creating and then updating functions that use
it, and whether it has an arm64 build. Source: AWS's published Lambda runtime deprecation
schedule (docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html), as of DATA_VERSION.
Dates of supported runtimes are AWS's projections and move when AWS extends a schedule;
config `runtime_overrides` corrects or adds entries without a release of the pack.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

DATA_VERSION = "2026-11"


@dataclass(frozen=True)
class Lifecycle:
    deprecated: dt.date
    block_create: dt.date | None
    block_update: dt.date | None
    arm64: bool = True

    def blocks(self) -> str:
        """`creation blocked from …, updates from …`, for messages."""
        parts = []
        if self.block_create:
            parts.append(f"function creation blocked from {self.block_create.isoformat()}")
        if self.block_update:
            parts.append(f"updates from {self.block_update.isoformat()}")
        return ", ".join(parts) or "no block dates published"


def _entry(deprecated: str, create: str, update: str, arm64: bool = True) -> Lifecycle:
    return Lifecycle(
        dt.date.fromisoformat(deprecated),
        dt.date.fromisoformat(create),
        dt.date.fromisoformat(update),
        arm64,
    )


RUNTIMES: dict[str, Lifecycle] = {
    # Node.js
    "nodejs24.x": _entry("2028-04-30", "2028-06-01", "2028-07-01"),
    "nodejs22.x": _entry("2027-04-30", "2027-06-01", "2027-07-01"),
    "nodejs20.x": _entry("2026-04-30", "2026-08-31", "2026-09-30"),
    "nodejs18.x": _entry("2025-09-01", "2025-10-01", "2025-11-01"),
    "nodejs16.x": _entry("2024-06-12", "2025-10-01", "2025-11-01"),
    "nodejs14.x": _entry("2023-12-04", "2024-07-09", "2025-11-01"),
    "nodejs12.x": _entry("2023-03-31", "2023-03-31", "2023-04-30"),
    "nodejs10.x": _entry("2021-07-30", "2021-07-30", "2022-02-14", arm64=False),
    # Python
    "python3.14": _entry("2029-06-30", "2029-07-31", "2029-08-31"),
    "python3.13": _entry("2029-06-30", "2029-07-31", "2029-08-31"),
    "python3.12": _entry("2028-10-31", "2028-11-30", "2029-01-10"),
    "python3.11": _entry("2027-06-30", "2027-07-31", "2027-08-31"),
    "python3.10": _entry("2026-06-30", "2026-08-31", "2026-09-30"),
    "python3.9": _entry("2025-12-15", "2026-08-31", "2026-09-30"),
    "python3.8": _entry("2024-10-14", "2025-10-01", "2025-11-01"),
    "python3.7": _entry("2023-12-04", "2024-01-09", "2025-11-01", arm64=False),
    "python3.6": _entry("2022-07-18", "2022-07-18", "2022-08-29", arm64=False),
    "python2.7": _entry("2021-07-15", "2021-07-15", "2022-05-30", arm64=False),
    # Java
    "java25": _entry("2029-06-30", "2029-07-31", "2029-08-31"),
    "java21": _entry("2029-06-30", "2029-07-31", "2029-08-31"),
    "java17": _entry("2026-06-30", "2026-07-31", "2026-08-31"),
    "java11": _entry("2026-06-30", "2026-07-31", "2026-08-31"),
    "java8.al2": _entry("2026-06-30", "2026-07-31", "2026-08-31"),
    "java8": _entry("2024-01-08", "2024-02-08", "2025-11-01", arm64=False),
    # .NET
    "dotnet10": _entry("2028-11-14", "2028-12-14", "2029-01-15"),
    "dotnet8": _entry("2026-11-10", "2026-12-10", "2027-01-11"),
    "dotnet7": _entry("2024-05-14", "2024-05-14", "2024-05-14"),
    "dotnet6": _entry("2024-12-20", "2025-10-01", "2025-11-01"),
    "dotnet5.0": _entry("2022-05-10", "2022-05-10", "2022-05-10", arm64=False),
    "dotnetcore3.1": _entry("2023-04-03", "2023-04-03", "2023-05-03"),
    "dotnetcore2.1": _entry("2022-01-05", "2022-01-05", "2022-04-13", arm64=False),
    # Ruby
    "ruby3.4": _entry("2028-03-31", "2028-04-30", "2028-05-31"),
    "ruby3.3": _entry("2027-03-31", "2027-04-30", "2027-05-31"),
    "ruby3.2": _entry("2026-03-31", "2026-04-30", "2026-05-31"),
    "ruby2.7": _entry("2023-12-07", "2024-01-09", "2025-11-01"),
    "ruby2.5": _entry("2021-07-30", "2021-07-30", "2022-03-31", arm64=False),
    # OS-only and Go
    "provided.al2023": _entry("2029-06-30", "2029-07-31", "2029-08-31"),
    "provided.al2": _entry("2026-06-30", "2026-07-31", "2026-08-31"),
    "provided": _entry("2024-01-08", "2024-02-08", "2025-11-01", arm64=False),
    "go1.x": _entry("2024-01-08", "2024-02-08", "2025-11-01", arm64=False),
}


def _date(value: Any) -> dt.date | None:
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _override(base: Lifecycle | None, entry: Mapping[str, Any]) -> Lifecycle | None:
    deprecated = _date(entry.get("deprecated")) or (base.deprecated if base else None)
    if deprecated is None:
        return base
    current = base or Lifecycle(deprecated, None, None)
    changes: dict[str, Any] = {"deprecated": deprecated}
    for key in ("block_create", "block_update"):
        when = _date(entry.get(key))
        if when is not None:
            changes[key] = when
    if isinstance(entry.get("arm64"), bool):
        changes["arm64"] = entry["arm64"]
    return replace(current, **changes)


def lifecycle(runtime: str, overrides: Any = None) -> Lifecycle | None:
    """The runtime's lifecycle, with config overrides applied; None when it is not known."""
    base = RUNTIMES.get(runtime)
    if isinstance(overrides, Mapping):
        entry = overrides.get(runtime)
        if isinstance(entry, Mapping):
            return _override(base, entry)
    return base
