"""s3 rules (POLICY-RULES.md)."""
