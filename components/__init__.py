"""Serverless patterns for Pulumi: one ComponentResource per pattern, built on components.core."""
