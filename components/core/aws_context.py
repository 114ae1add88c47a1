"""Region, account and partition of the stack's provider, as Outputs."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws


def region(parent: pulumi.Resource) -> pulumi.Output[str]:
    return aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=parent)).region


def account_id(parent: pulumi.Resource) -> pulumi.Output[str]:
    return aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=parent)).account_id


def partition(parent: pulumi.Resource) -> pulumi.Output[str]:
    return aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=parent)).partition
