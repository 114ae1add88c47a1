"""pipes rules (POLICY-RULES.md)."""
