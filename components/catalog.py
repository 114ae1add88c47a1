"""Slug -> pattern component and its args: drives `__main__`, config validation and docs."""

from __future__ import annotations

from dataclasses import dataclass

from components.core.pattern import Pattern, PatternArgs
from components.scalable_webhook import ScalableWebhook, ScalableWebhookArgs


@dataclass(frozen=True)
class Entry:
    slug: str
    component: type[Pattern]
    args: type[PatternArgs]
    summary: str


CATALOG: dict[str, Entry] = {
    entry.slug: entry
    for entry in [
        Entry(
            "scalable-webhook",
            ScalableWebhook,
            ScalableWebhookArgs,
            "API Gateway -> SQS -> throttled consumer -> DynamoDB, each delivery written once",
        ),
    ]
}
