"""Data sources the simulated cloud has no model of: a plain invoke and an output invoke."""

import pulumi
import pulumi_aws as aws

vpc = aws.ec2.get_vpc(default=True)
ami = aws.ec2.get_ami_output(
    most_recent=True,
    owners=["amazon"],
    filters=[{"name": "name", "values": ["al2023-ami-*-arm64"]}],
)
group = aws.ec2.SecurityGroup("web", vpc_id=vpc.id, description="web servers")
pulumi.export("vpc_id", vpc.id)
pulumi.export("vpc_cidr", vpc.cidr_block)
pulumi.export("ami_id", ami.id)
pulumi.export("ami_name", ami.name.apply(lambda name: name.upper()))
pulumi.export("group_vpc", group.vpc_id)
