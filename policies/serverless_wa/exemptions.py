"""Exemptions with a reason and an expiry, from tags or from the rule's config.

- Tag `wa:exempt:<RULE-ID>` = `<YYYY-MM-DD> <reason>` on a taggable resource.
- Config `exemptions: [{match, reason, expires, detail?}]`: `match` is a regex on the URN
  or the name; `detail` narrows the exemption to one granular finding.
An exemption past its expiry date is ignored, so the finding comes back. A reason must say
something: at least MIN_REASON_LENGTH characters. Malformed tags are reported by STACK-021;
malformed config entries fail the pack's config schema, which the engine checks before any
analysis (the offline gate checks it the same way).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

TAG_PREFIX = "wa:exempt:"
MIN_REASON_LENGTH = 10
_TAG_VALUE = re.compile(r"^(\d{4}-\d{2}-\d{2})\s+(\S.*)$")


@dataclass(frozen=True)
class Exemption:
    expires: dt.date
    reason: str
    source: str  # "tag" or "config"
    detail: str | None = None

    def active(self, today: dt.date) -> bool:
        return today <= self.expires

    def describe(self) -> str:
        scope = f" ({self.detail})" if self.detail else ""
        return f"exempt until {self.expires.isoformat()}{scope}: {self.reason}"


def today(config: Mapping[str, Any]) -> dt.date:
    """Today, or the config's `today` (ISO date) so tests can move the clock."""
    value = config.get("today")
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    return dt.date.today()


def parse_tag(value: Any) -> Exemption | None:
    """`<YYYY-MM-DD> <reason>`; None when malformed (STACK-021 reports those)."""
    if not isinstance(value, str):
        return None
    match = _TAG_VALUE.match(value.strip())
    if not match:
        return None
    try:
        expires = dt.date.fromisoformat(match.group(1))
    except ValueError:
        return None
    reason = match.group(2).strip()
    if len(reason) < MIN_REASON_LENGTH:
        return None
    return Exemption(expires, reason, "tag")


def from_tags(tags: Mapping[str, Any], rule_id: str) -> Exemption | None:
    return parse_tag(tags.get(f"{TAG_PREFIX}{rule_id}"))


def from_config(config: Mapping[str, Any], urn: str, name: str) -> list[Exemption]:
    """The config exemptions whose `match` covers this resource (malformed ones skipped)."""
    found: list[Exemption] = []
    entries = config.get("exemptions")
    if not isinstance(entries, Sequence) or isinstance(entries, str):
        return found
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        pattern, reason, expires = entry.get("match"), entry.get("reason"), entry.get("expires")
        if not (
            isinstance(pattern, str)
            and pattern
            and isinstance(reason, str)
            and len(reason.strip()) >= MIN_REASON_LENGTH
        ):
            continue
        try:
            expiry = dt.date.fromisoformat(str(expires))
            matcher = re.compile(pattern)
        except (ValueError, re.error):
            continue
        if matcher.search(urn) or matcher.fullmatch(name):
            detail = entry.get("detail")
            found.append(
                Exemption(
                    expiry, reason.strip(), "config", detail if isinstance(detail, str) else None
                )
            )
    return found


def applicable(
    tags: Mapping[str, Any],
    config: Mapping[str, Any],
    rule_id: str,
    urn: str,
    name: str,
    when: dt.date,
) -> list[Exemption]:
    """Active exemptions of `rule_id` for one resource: whole-resource ones first."""
    candidates = [e for e in [from_tags(tags, rule_id)] if e is not None]
    candidates += from_config(config, urn, name)
    active = [e for e in candidates if e.active(when)]
    return sorted(active, key=lambda e: e.detail is not None)
