"""Well-Architected serverless rules for Pulumi CrossGuard (the importable rule package).

It reads only the engine's property bags, never the components, so it runs against any stack.
"""
