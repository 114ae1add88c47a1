"""Public programs reach for more than pulumi_aws: a password from pulumi_random, networks
from pulumi_awsx (a component its own provider builds) whose subnets a program indexes by
zone, two availability zones."""

import pulumi
import pulumi_aws as aws
import pulumi_awsx as awsx
import pulumi_random as random

password = random.RandomPassword("db", length=24, special=False)
secret = aws.secretsmanager.Secret("db")
aws.secretsmanager.SecretVersion("db", secret_id=secret.id, secret_string=password.result)

zones = aws.get_availability_zones(state="available")
vpc = awsx.ec2.Vpc("net", number_of_availability_zones=2)
group = aws.rds.SubnetGroup(
    "db",
    subnet_ids=vpc.private_subnet_ids,
    tags={"first-zone": zones.names[0], "second-zone": zones.names[1]},
)
hub = awsx.ec2.Vpc(  # three zones by default
    "hub",
    subnet_specs=[
        awsx.ec2.SubnetSpecArgs(type=awsx.ec2.SubnetType.PUBLIC, cidr_mask=28),
        awsx.ec2.SubnetSpecArgs(type=awsx.ec2.SubnetType.ISOLATED, cidr_mask=28, name="tgw"),
    ],
)
aws.ec2.RouteTableAssociation(
    "third-zone",
    subnet_id=hub.isolated_subnet_ids.apply(lambda ids: ids[2]),
    route_table_id="rtb-0123456789abcdef0",
)
pulumi.export("vpc", vpc.vpc_id)
pulumi.export("zones", zones.zone_ids)
