"""Exemptions: when one is active, what a tag or config entry must hold, what a match covers.

The pack applies them (tests/policies/test_rules.py runs every rule's exempted case through
the analyzer protocol); these pin the parsing and matching rules themselves.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from serverless_wa import exemptions
from serverless_wa.exemptions import Exemption, applicable, from_config, parse_tag, today

RULE = "STACK-001"
URN = (
    "urn:pulumi:prod::shop::serverless-patterns:patterns:Example"
    "$aws:lambda/function:Function::worker"
)
REASON = "accepted until the migration ends"
EXPIRY = dt.date(2026, 6, 30)


def entry(**fields: Any) -> dict[str, Any]:
    return {"match": "worker", "reason": REASON, "expires": "2026-06-30", **fields}


def config_of(*entries: Any) -> dict[str, Any]:
    return {"exemptions": list(entries)}


# Active until the end of the expiry date ----------------------------------------------------


def test_an_exemption_is_active_on_its_expiry_date_and_not_the_day_after():
    exemption = Exemption(EXPIRY, REASON, "tag")
    assert exemption.active(dt.date(2026, 6, 29))
    assert exemption.active(EXPIRY)
    assert not exemption.active(dt.date(2026, 7, 1))


def test_applicable_keeps_only_the_active_exemptions():
    tags = {f"wa:exempt:{RULE}": f"2026-06-30 {REASON}"}
    for when, expected in ((EXPIRY, 2), (dt.date(2026, 7, 1), 0)):
        found = applicable(tags, config_of(entry()), RULE, URN, "worker", when)
        assert len(found) == expected


def test_today_comes_from_the_config_when_it_is_a_date():
    assert today({"today": "2026-01-02"}) == dt.date(2026, 1, 2)
    assert today({"today": "not a date"}) == dt.date.today()
    assert today({"today": 20260102}) == dt.date.today()
    assert today({}) == dt.date.today()


# Tags ---------------------------------------------------------------------------------------


def test_a_tag_holds_an_expiry_and_a_reason():
    assert parse_tag(f"2026-06-30 {REASON}") == Exemption(EXPIRY, REASON, "tag")
    tags = {f"wa:exempt:{RULE}": f"2026-06-30 {REASON}", "wa:exempt:STACK-002": "2099-01-01 x"}
    assert exemptions.from_tags(tags, RULE) == Exemption(EXPIRY, REASON, "tag")
    assert exemptions.from_tags(tags, "LAMBDA-001") is None


def test_surrounding_whitespace_is_stripped_from_a_tag():
    assert parse_tag(f"  2026-06-30 \t {REASON}  \n") == Exemption(EXPIRY, REASON, "tag")


@pytest.mark.parametrize(
    "value",
    [
        "2026-06-30",
        "2026-06-30 ",
        "2026-06-30 too short",  # 9 characters
        "2026-06-30    too short    ",
        f"2026-13-01 {REASON}",
        f"2026-6-30 {REASON}",
        f"{REASON} 2026-06-30",
        None,
        20260630,
    ],
)
def test_a_tag_without_a_date_and_a_real_reason_is_refused(value):
    assert parse_tag(value) is None


def test_a_reason_of_exactly_the_minimum_length_is_enough():
    assert exemptions.MIN_REASON_LENGTH == 10
    assert parse_tag("2026-06-30 0123456789") == Exemption(EXPIRY, "0123456789", "tag")
    assert parse_tag("2026-06-30 012345678") is None


# Config entries -----------------------------------------------------------------------------


def test_a_config_entry_matches_the_whole_name_or_part_of_the_urn():
    assert from_config(config_of(entry(match="worker")), URN, "worker")
    assert from_config(config_of(entry(match="Example\\$aws:lambda")), URN, "worker")
    # `^work` is anchored: it names resources whose name starts with "work", and the URN
    # (which starts with "urn:") holds "worker" only after "::".
    assert from_config(config_of(entry(match="^work")), URN, "worker") == []
    (found,) = from_config(config_of(entry(match="^work")), URN, "work")
    assert found.reason == REASON
    assert from_config(config_of(entry(match="work$")), URN, "worker") == []


def test_a_config_entry_becomes_an_exemption_with_its_detail():
    (found,) = from_config(config_of(entry(detail="s3:*")), URN, "worker")
    assert found == Exemption(EXPIRY, REASON, "config", "s3:*")
    (found,) = from_config(config_of(entry(detail=5)), URN, "worker")
    assert found.detail is None
    assert found.describe() == f"exempt until 2026-06-30: {REASON}"
    scoped = Exemption(EXPIRY, REASON, "config", "s3:*")
    assert scoped.describe() == f"exempt until 2026-06-30 (s3:*): {REASON}"


def test_surrounding_whitespace_is_stripped_from_a_config_reason():
    (found,) = from_config(config_of(entry(reason=f"  {REASON}\t")), URN, "worker")
    assert found.reason == REASON


@pytest.mark.parametrize(
    "bad",
    [
        {"reason": None},
        {"reason": ""},
        {"reason": "too short"},
        {"reason": "    too short    "},
        {"reason": 1234567890123},
        {"match": ""},
        {"match": None},
        {"match": "("},
        {"expires": "2026-06-31"},
        {"expires": None},
    ],
    ids=repr,
)
def test_a_malformed_config_entry_is_refused_and_the_next_one_still_counts(bad):
    later = entry(reason="the second entry stands")
    found = from_config(config_of(entry(**bad), later), URN, "worker")
    assert [e.reason for e in found] == ["the second entry stands"]


def test_config_entries_that_are_not_mappings_are_skipped():
    found = from_config(config_of("worker", ["worker"], entry()), URN, "worker")
    assert len(found) == 1
    assert from_config({"exemptions": "worker"}, URN, "worker") == []
    assert from_config({"exemptions": {"match": "worker"}}, URN, "worker") == []
    assert from_config({}, URN, "worker") == []


def test_whole_resource_exemptions_come_before_granular_ones():
    entries = [entry(detail="s3:*"), entry(reason="the whole resource is exempt")]
    found = applicable({}, config_of(*entries), RULE, URN, "worker", EXPIRY)
    assert [e.detail for e in found] == [None, "s3:*"]
    tags = {f"wa:exempt:{RULE}": f"2026-06-30 {REASON}"}
    found = applicable(tags, config_of(entry(detail="s3:*")), RULE, URN, "worker", EXPIRY)
    assert [(e.source, e.detail) for e in found] == [("tag", None), ("config", "s3:*")]


def test_a_config_reason_of_exactly_the_minimum_length_is_enough():
    (found,) = from_config(config_of(entry(reason=" 0123456789 ")), URN, "worker")
    assert found.reason == "0123456789"
    assert from_config(config_of(entry(reason=" 012345678 ")), URN, "worker") == []


def test_an_exemption_is_an_immutable_value():
    exemption = Exemption(EXPIRY, REASON, "tag")
    with pytest.raises(dataclasses.FrozenInstanceError):
        exemption.expires = dt.date(2099, 1, 1)  # type: ignore[misc]
    assert {exemption, Exemption(EXPIRY, REASON, "tag")} == {exemption}
