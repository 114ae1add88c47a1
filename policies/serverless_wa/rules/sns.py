"""sns rules (POLICY-RULES.md)."""
