"""Stack-level rules on concurrency, failure handling, timeouts and tracing paths
(STACK-003 to STACK-012), one module per concern:

- `concurrency`: STACK-003, reserved concurrency against the account's limit
- `async_failures`: STACK-004, failure handling on every asynchronous invocation path
- `dlq`: STACK-005 to STACK-007, the dead-letter queues (retention, FIFO match, depth alarm)
- `failure_destinations`: STACK-008, failure destinations the sender may write to
- `timeout_chains`: STACK-009 to STACK-011, timeouts along queues, APIs and state machines
- `tracing`: STACK-012, tracing paths that stay continuous

Every check reads the shared graph: links come from property dependencies first, then from
known values (ARN, URL, name). An unknown value or a link that stays unresolved or ambiguous
never produces a finding. Importing this package registers the rules.
"""

from serverless_wa.rules._async import EVENT_TARGET, SCHEDULE
from serverless_wa.rules._common import ESM, FUNCTION, INVOKE_CONFIG, PERMISSION, PIPE, QUEUE, ROLE
from serverless_wa.rules._iam import ROLE_POLICY_ATTACHMENT
from serverless_wa.rules.stack_failure import (
    async_failures,
    concurrency,
    dlq,
    failure_destinations,
    timeout_chains,
    tracing,
)
from serverless_wa.rules.stack_failure._shared import (
    DATA_SOURCE,
    GRAPHQL_API,
    PENDING,
    REST_INTEGRATION,
    V2_API,
)

__all__ = [
    "DATA_SOURCE",
    "ESM",
    "EVENT_TARGET",
    "FUNCTION",
    "GRAPHQL_API",
    "INVOKE_CONFIG",
    "PENDING",
    "PERMISSION",
    "PIPE",
    "QUEUE",
    "REST_INTEGRATION",
    "ROLE",
    "ROLE_POLICY_ATTACHMENT",
    "SCHEDULE",
    "V2_API",
    "async_failures",
    "concurrency",
    "dlq",
    "failure_destinations",
    "timeout_chains",
    "tracing",
]
