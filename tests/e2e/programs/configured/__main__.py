"""Reads its config as a program does: the project file's defaults, its one stack file's
values (stack `staging`, the only one) and `--config` pairs."""

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
pulumi.export("stack", pulumi.get_stack())
pulumi.export("project", pulumi.get_project())
pulumi.export("region", aws.config.region)
pulumi.export("greeting", config.require("greeting"))
pulumi.export("owner", config.get("owner"))
pulumi.export("retries", config.require_int("retries"))
pulumi.export("memory", config.require_object("limits")["memory"])
pulumi.export("extra", config.get("extra"))
