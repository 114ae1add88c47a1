"""A Lambda function with no X-Ray tracing: a mandatory finding under the prod profile."""

import json

import pulumi
import pulumi_aws as aws

role = aws.iam.Role(
    "untraced-role",
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
aws.lambda_.Function(
    "untraced",
    role=role.arn,
    runtime="python3.13",
    handler="index.handler",
    code=pulumi.AssetArchive(
        {"index.py": pulumi.StringAsset("def handler(e, c):\n    return e\n")}
    ),
)
