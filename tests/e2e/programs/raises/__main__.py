"""A program that raises from one of its own modules, after the first resource registered."""

import pulumi
import pulumi_aws as aws
from lib.sizing import memory_for

config = pulumi.Config()
queue = aws.sqs.Queue("jobs")
memory = memory_for(config.get("tier") or "medium")
