"""config-cache: a Lambda extension that serves allow-listed secrets and parameters from a
TTL cache on 127.0.0.1, so a function reads them without a network call per invocation."""
