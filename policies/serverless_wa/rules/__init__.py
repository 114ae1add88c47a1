"""Rule modules, one per group; importing this package registers every rule."""

from serverless_wa.rules import (  # noqa: F401
    lambda_,
    stack,
)
