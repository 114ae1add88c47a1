"""Unknowns the program makes at preview: an `apply` on a data source's unknown output feeds
the function's tracing mode (Active once known); a mandatory finding on it would be false."""

import json

import pulumi
import pulumi_aws as aws

vpc = aws.ec2.get_vpc_output(default=True)
role = aws.iam.Role(
    "traced-role",
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
fn = aws.lambda_.Function(
    "traced",
    role=role.arn,
    runtime="python3.13",
    handler="index.handler",
    code=pulumi.AssetArchive(
        {"index.py": pulumi.StringAsset("def handler(e, c):\n    return e\n")}
    ),
    memory_size=256,
    timeout=10,
    tracing_config={"mode": vpc.id.apply(lambda _: "Active")},
    environment={"variables": {"VPC": vpc.id}},
)
pulumi.export("function_name", fn.name)
