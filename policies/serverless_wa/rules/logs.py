"""logs rules (POLICY-RULES.md)."""
