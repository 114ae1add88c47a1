"""kinesis rules (POLICY-RULES.md)."""
