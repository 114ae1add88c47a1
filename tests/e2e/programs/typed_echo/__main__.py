"""A policy given as a dict where the SDK's input is a JSON string, read back as a string."""

import json

import pulumi
import pulumi_aws as aws

role = aws.iam.Role(
    "worker-role",
    assume_role_policy={
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    },
)
pulumi.export(
    "trusted_service",
    role.assume_role_policy.apply(lambda text: json.loads(text)["Statement"][0]["Principal"]),
)
