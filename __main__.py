"""The Pulumi program: build the patterns the stack config chooses, export their outputs.

Config is read and validated in full before the first resource is registered, so a typo
stops the program with one message naming the key and the allowed values.
"""

from __future__ import annotations

import dataclasses

import pulumi

from components.catalog import CATALOG
from components.config import parse, read_pulumi_config
from components.core.alarms import AlarmTopic
from components.core.api import ApiGatewayAccount


def main() -> None:
    config = parse(read_pulumi_config())
    for note in config.notes:
        pulumi.log.warn(note)

    if config.api_gateway_account:
        ApiGatewayAccount("apigateway-account")
    if config.alarm_topic_arn is not None:
        alarm_arn: pulumi.Input[str] = config.alarm_topic_arn
    else:
        topic = AlarmTopic("alarms")
        alarm_arn = topic.arn
        pulumi.export("alarm_topic_arn", topic.arn)
    settings = dataclasses.replace(config.settings, alarm_actions=(alarm_arn,))

    for choice in config.patterns:
        entry = CATALOG[choice.slug]
        args = dataclasses.replace(choice.args, settings=settings)
        component = entry.component(choice.instance, args)
        pulumi.export(choice.instance, component.exports)


main()
