"""One schedule grammar, two copies: the component validator (components/core/schedule.py,
run when a component is built) and the policy pack's EVENTS-006 (which never imports
components) give the same verdict on every expression here."""

from __future__ import annotations

import pytest

from components.core.schedule import expression_problem
from serverless_wa.rules.events import schedule_expression_problem

VALID = [
    "rate(1 minute)",
    "rate(5 minutes)",
    "rate(1 hour)",
    "rate(12 hours)",
    "rate(1 day)",
    "rate(30 days)",
    "cron(15 19 * * ? *)",
    "cron(0 2 ? * MON-FRI *)",
    "cron(0/15 * * * ? *)",
    "cron(0 8-17/2 ? * mon,wed,fri *)",
    "cron(0 10 ? * 6L 2030)",
    "cron(0 10 ? * 3#2 *)",
    "cron(0 10 ? * L *)",
    "cron(0 8 15W * ? *)",
    "cron(0 8 LW * ? *)",
    "cron(0 8 L JAN-MAR ? 2030-2035)",
    "cron(59 23 31 12 ? 2199)",
    "at(2030-01-01T00:00:00)",
    "at(2028-02-29T23:59:59)",
]
INVALID = [
    "rate(5 minute)",
    "rate(1 minutes)",
    "rate(0 minutes)",
    "rate(05 minutes)",
    "rate(5 weeks)",
    "rate(5 Minutes)",
    "rate(five minutes)",
    " rate(5 minutes)",
    "rate(5 minutes) ",
    "cron(15 19 * * ?)",
    "cron(0 15 19 * * ? *)",
    "cron(0 12 * * * *)",
    "cron(0 12 ? * ? *)",
    "cron(60 12 * * ? *)",
    "cron(0 24 * * ? *)",
    "cron(0 12 0 * ? *)",
    "cron(0 12 * 13 ? *)",
    "cron(0 12 ? * 8 *)",
    "cron(0 12 ? * 3#6 *)",
    "cron(0 12 * * ? 1969)",
    "cron(0/0 12 * * ? *)",
    "cron(0 12 ? * MON/2 *)",
    "cron(? 12 * * ? *)",
    "cron(0 12 15L * ? *)",
    "at(2030-02-30T00:00:00)",
    "at(2030-13-01T00:00:00)",
    "at(2030-01-01T24:00:00)",
    "at(2030-01-01)",
    "at(2030-01-01 00:00:00)",
    "every 5 minutes",
    "",
]


@pytest.mark.parametrize("expression", VALID)
def test_both_accept(expression):
    assert expression_problem(expression) is None
    assert schedule_expression_problem(expression, scheduler=True) is None


@pytest.mark.parametrize("expression", INVALID)
def test_both_reject(expression):
    assert expression_problem(expression)
    assert schedule_expression_problem(expression, scheduler=True)
