"""The policy pack's entry point: the engine runs `python -m pulumi.policy <address> .` here.

Only this file constructs the PolicyPack, because its constructor starts the analyzer
server and never returns; everything else lives in the importable `serverless_wa` package.
"""

from pulumi_policy import EnforcementLevel, PolicyPack

from serverless_wa import server
from serverless_wa.pack import PACK_NAME, build_policies, initial_config

server.install()

PolicyPack(
    name=PACK_NAME,
    policies=build_policies(),
    enforcement_level=EnforcementLevel.ADVISORY,
    initial_config=initial_config(),
    description="AWS Well-Architected serverless rules for Pulumi stacks",
)
