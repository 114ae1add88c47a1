"""The registered rules are exactly the committed inventory (`registered_rules.txt`): moving a
rule between modules changes nothing a user sees, and adding, renaming or dropping one is a
deliberate edit of that file."""

from __future__ import annotations

from pathlib import Path

from serverless_wa import pack
from serverless_wa.registry import rules

INVENTORY = Path(__file__).with_name("registered_rules.txt")


def _committed() -> list[tuple[str, str, str]]:
    rows = []
    for line in INVENTORY.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            rule_id, name, scope = line.split()
            rows.append((rule_id, name, scope))
    return rows


def test_registered_rules_are_the_committed_inventory():
    registered = [(r.id, r.name, r.scope) for r in rules()]
    committed = _committed()
    assert len(registered) == len(committed)
    assert registered == committed


def test_the_pack_serves_one_policy_per_committed_rule():
    served = sorted(policy.name for policy in pack.build_policies())
    assert served == sorted(name for _, name, _ in _committed())
