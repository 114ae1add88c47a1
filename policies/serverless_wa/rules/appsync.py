"""appsync rules (POLICY-RULES.md)."""
