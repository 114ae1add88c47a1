"""events rules (POLICY-RULES.md)."""
