"""stack_failure rules (POLICY-RULES.md)."""
