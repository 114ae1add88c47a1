"""apigw rules (POLICY-RULES.md)."""
