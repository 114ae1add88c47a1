"""The README's own program passes the prod profile: what a user copies must not fail the gate."""

from __future__ import annotations

import re
from pathlib import Path

from preview import gate

ROOT = Path(__file__).resolve().parents[2]


def readme_program() -> str:
    section = (ROOT / "README.md").read_text().split("## Using a component in your own program")[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README shows a program"
    return match.group(1)


def test_the_readme_program_has_no_mandatory_finding_under_prod(build):
    source = readme_program()
    plan = build(lambda: exec(compile(source, "README.md", "exec"), {"__name__": "__main__"}))
    assert plan.of_type("aws:lambda/function:Function")
    assert "url" in plan.outputs
    report = gate.run(plan, profile=gate.profile_for("prod"))
    assert [f.text for f in report.mandatory] == []
    assert report.crashed == []
