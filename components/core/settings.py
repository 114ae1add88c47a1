"""Stack-wide settings every pattern reads: environment, tags, retention, runtime, alarms.

Also the shapes that settings and pattern arguments are checked against before any
resource exists: ARNs of a known kind (`ArnKind`), event bus references and tags.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import pulumi

from . import defaults

Environment = Literal["dev", "prod"]
Architecture = Literal["arm64", "x86_64"]

# arn:<partition>:<service>:<region>:<account>:<resource>; `{region}` is filled in later.
_ARN = re.compile(
    r"^arn:(?P<partition>aws(?:-[a-z]+)*):(?P<service>[a-z0-9-]+):"
    r"(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9]+|\{region\}):(?P<account>[0-9]{12}):"
    r"(?P<resource>.+)$"
)
_BUS_NAME = re.compile(r"^[/.\-_A-Za-z0-9]{1,256}$")
TAG_KEY_MAX = 128
TAG_VALUE_MAX = 256
RESERVED_TAG_PREFIX = "aws:"


@dataclass(frozen=True)
class ArnKind:
    """A regional ARN of one service whose resource part has a known shape."""

    noun: str
    service: str
    resource: str  # a regex for the resource part
    shape: str  # the resource part as the message shows it
    region_template: bool = False  # `{region}` may stand for the stack's Region

    def check(self, value: str, argument: str) -> None:
        """ValueError naming `argument` unless `value` is this kind of ARN."""
        match = _ARN.match(value)
        if (
            match is None
            or match["service"] != self.service
            or (match["region"] == "{region}" and not self.region_template)
            or not re.fullmatch(self.resource, match["resource"])
        ):
            raise ValueError(
                f"{argument} must be {self.noun} ARN, arn:<partition>:{self.service}:<region>:"
                f"<account>:{self.shape} (got {value!r})"
            )


SNS_TOPIC = ArnKind("an SNS topic", "sns", r"[A-Za-z0-9_-]{1,256}(\.fifo)?", "<topic>")
SECRET = ArnKind(
    "a Secrets Manager", "secretsmanager", r"secret:[A-Za-z0-9/_+=.@-]+", "secret:<name>"
)
KMS_KEY = ArnKind("a KMS key", "kms", r"key/[A-Za-z0-9-]+", "key/<key-id>")
LAYER_VERSION = ArnKind(
    "a Lambda layer version",
    "lambda",
    r"layer:[A-Za-z0-9_-]{1,140}:[0-9]+",
    "layer:<name>:<version>",
    region_template=True,
)
REGIONAL_WEB_ACL = ArnKind(
    "a regional WAFv2 web ACL",
    "wafv2",
    r"regional/webacl/[A-Za-z0-9_-]{1,128}/[A-Za-z0-9-]+",
    "regional/webacl/<name>/<id>",
)
EVENT_BUS = ArnKind(
    "an EventBridge event bus", "events", r"event-bus/[/.\-_A-Za-z0-9]{1,256}", "event-bus/<name>"
)


def check_event_bus(value: str, argument: str = "event_bus_name") -> None:
    """ValueError naming `argument` unless `value` is an event bus name or ARN."""
    if _BUS_NAME.match(value):
        return
    try:
        EVENT_BUS.check(value, argument)
    except ValueError:
        raise ValueError(
            f"{argument} must be a bus name or ARN, or null for the default bus: 1-256 letters, "
            f"digits, '.', '-', '_' or '/', or arn:<partition>:events:<region>:<account>:"
            f"event-bus/<name> (got {value!r})"
        ) from None


def tag_problems(tags: Mapping[str, str]) -> list[tuple[str, str]]:
    """(tag key, problem) for every tag AWS would refuse."""
    problems = []
    for key, value in tags.items():
        shown = repr(key) if len(key) <= 40 else repr(key[:40] + "...")
        if not 1 <= len(key) <= TAG_KEY_MAX:
            problems.append(
                (key, f"key {shown} must be 1-{TAG_KEY_MAX} characters (got {len(key)})")
            )
        if key.lower().startswith(RESERVED_TAG_PREFIX):
            problems.append((key, f"key {shown} must not start with 'aws:' (reserved for AWS)"))
        if len(value) > TAG_VALUE_MAX:
            problems.append(
                (
                    key,
                    f"value of {shown} must be at most {TAG_VALUE_MAX} characters "
                    f"(got {len(value)})",
                )
            )
    return problems


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Common settings; `__main__` builds them from stack config, tests use the defaults.

    environment: `prod` turns on deletion protection, full-length retention and stricter limits.
    tags: added to every taggable child (the AWS provider's default tags cover the rest).
    log_retention_days: retention of every log group the components create.
    powertools_layer_arn: the Powertools layer; `{region}` is replaced by the stack's Region.
    runtime / architecture: default for every function.
    alarm_actions: ARNs notified by every alarm (an SNS topic the program makes by default).
    """

    environment: Environment = "dev"
    tags: dict[str, str] = field(default_factory=dict)
    log_retention_days: int = defaults.LOG_RETENTION_DAYS
    powertools_layer_arn: str = defaults.POWERTOOLS_LAYER_ARN
    runtime: str = defaults.RUNTIME
    architecture: Architecture = defaults.ARCHITECTURE
    alarm_actions: tuple[pulumi.Input[str], ...] = ()

    def __post_init__(self) -> None:
        if self.environment not in ("dev", "prod"):
            raise ValueError(f"environment must be one of dev, prod (got {self.environment!r})")
        if self.log_retention_days not in defaults.VALID_LOG_RETENTION_DAYS:
            allowed = ", ".join(map(str, defaults.VALID_LOG_RETENTION_DAYS))
            raise ValueError(
                f"log_retention_days must be one of {allowed} (got {self.log_retention_days!r})"
            )
        if self.architecture not in ("arm64", "x86_64"):
            raise ValueError(
                f"architecture must be one of arm64, x86_64 (got {self.architecture!r})"
            )
        if not self.runtime.startswith("python3."):
            raise ValueError(f"runtime must be a python3.x runtime (got {self.runtime!r})")
        LAYER_VERSION.check(self.powertools_layer_arn, "powertools_layer_arn")
        tags = tag_problems(self.tags)
        if tags:
            raise ValueError(f"tags: {tags[0][1]}")

    @property
    def production(self) -> bool:
        return self.environment == "prod"

    def layer_arn(self, region: str) -> str:
        return self.powertools_layer_arn.replace("{region}", region)
