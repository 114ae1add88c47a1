"""A function's code and a bucket object's source given as paths relative to the program's
folder, as public programs give them (`pulumi.FileArchive("./app")`)."""

import json

import pulumi
import pulumi_aws as aws

role = aws.iam.Role(
    "app-role",
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
    "app",
    role=role.arn,
    runtime="python3.13",
    handler="index.handler",
    code=pulumi.FileArchive("./app"),
)
site = aws.s3.BucketV2("site")
aws.s3.BucketObjectv2("index", bucket=site.id, source=pulumi.FileAsset("site/index.html"))
