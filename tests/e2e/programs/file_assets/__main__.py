"""A function's code and a bucket object's source given as paths relative to the program's
folder, as public programs give them (`pulumi.FileArchive("./app")`)."""

import pulumi
import pulumi_aws as aws

aws.lambda_.Function(
    "app",
    role="arn:aws:iam::123456789012:role/app",  # a role made elsewhere
    runtime="python3.13",
    handler="index.handler",
    code=pulumi.FileArchive("./app"),
)
site = aws.s3.BucketV2("site")
aws.s3.BucketObjectv2("index", bucket=site.id, source=pulumi.FileAsset("site/index.html"))
