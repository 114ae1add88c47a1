"""sfn rules (POLICY-RULES.md)."""
