"""iam rules (POLICY-RULES.md)."""
