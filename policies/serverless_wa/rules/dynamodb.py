"""dynamodb rules (POLICY-RULES.md)."""
