"""apigw2 rules (POLICY-RULES.md)."""
