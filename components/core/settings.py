"""Stack-wide settings every pattern reads: environment, tags, retention, runtime, alarms."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pulumi

from components.core import defaults

Environment = Literal["dev", "prod"]
Architecture = Literal["arm64", "x86_64"]


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

    @property
    def production(self) -> bool:
        return self.environment == "prod"

    def layer_arn(self, region: str) -> str:
        return self.powertools_layer_arn.replace("{region}", region)
