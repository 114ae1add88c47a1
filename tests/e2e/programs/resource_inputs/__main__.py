"""Resources given where inputs are expected (`role=role`, `function=fn`), as public programs
write them: the engine sends a custom resource as its id, with the dependency."""

import json

import pulumi
import pulumi_aws as aws

role = aws.iam.Role(
    "handler-role",
    assume_role_policy=json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    ),
)
aws.iam.RolePolicyAttachment(
    "handler-logs",
    role=role,
    policy_arn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
)
fn = aws.lambda_.Function(
    "handler",
    role=role.arn,
    runtime="python3.13",
    handler="index.handler",
    code=pulumi.AssetArchive(
        {"index.py": pulumi.StringAsset("def handler(e, c):\n    return e\n")}
    ),
    tracing_config={"mode": "Active"},
)
aws.lambda_.Permission(
    "handler-invoke",
    action="lambda:InvokeFunction",
    function=fn,
    principal="events.amazonaws.com",
)
pulumi.export("function_name", fn.name)
