"""sqs rules (POLICY-RULES.md)."""
