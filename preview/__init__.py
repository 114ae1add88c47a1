"""Offline preview: run the Pulumi program under a mock engine, no CLI and no cloud account."""
