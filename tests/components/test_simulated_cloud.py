"""The simulated cloud answers the invokes components use, with realistic values."""

from __future__ import annotations

import json

import pulumi_aws as aws


def test_invokes_answer_region_account_partition_and_policy_documents(build):
    seen: dict[str, object] = {}

    def program():
        aws.get_region_output().region.apply(lambda v: seen.setdefault("region", v))
        aws.get_caller_identity_output().account_id.apply(lambda v: seen.setdefault("account", v))
        aws.get_partition_output().partition.apply(lambda v: seen.setdefault("partition", v))
        document = aws.iam.get_policy_document_output(
            statements=[
                aws.iam.GetPolicyDocumentStatementArgs(
                    actions=["sqs:SendMessage"],
                    resources=["arn:aws:sqs:eu-west-1:123456789012:q"],
                    principals=[
                        aws.iam.GetPolicyDocumentStatementPrincipalArgs(
                            type="Service", identifiers=["events.amazonaws.com"]
                        )
                    ],
                    conditions=[
                        aws.iam.GetPolicyDocumentStatementConditionArgs(
                            test="ArnEquals", variable="aws:SourceArn", values=["arn:aws:events:x"]
                        )
                    ],
                )
            ]
        )
        document.json.apply(lambda v: seen.setdefault("policy", json.loads(v)))

    build(program)
    assert seen["region"] == "eu-west-1"
    assert seen["account"] == "123456789012"
    assert seen["partition"] == "aws"
    (statement,) = seen["policy"]["Statement"]  # type: ignore[index]
    assert statement == {
        "Effect": "Allow",
        "Action": "sqs:SendMessage",
        "Resource": "arn:aws:sqs:eu-west-1:123456789012:q",
        "Principal": {"Service": "events.amazonaws.com"},
        "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:events:x"}},
    }


def test_outputs_are_realistic_and_stable(build):
    def program():
        aws.sqs.Queue("jobs", name="jobs")
        aws.lambda_.Function(
            "fn", name="fn", role="arn:aws:iam::123456789012:role/r", runtime="python3.13"
        )

    first, second = build(program), build(program)
    queue = first.one("aws:sqs/queue:Queue")
    assert queue.outputs["url"] == "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs"
    assert queue.outputs["arn"] == "arn:aws:sqs:eu-west-1:123456789012:jobs"
    fn = first.one("aws:lambda/function:Function")
    assert fn.outputs["arn"] == "arn:aws:lambda:eu-west-1:123456789012:function:fn"
    assert fn.outputs["invokeArn"].endswith(f"/functions/{fn.outputs['arn']}/invocations")

    # Registration order may vary between runs; the values for each URN may not.
    def by_urn(plan):
        return {r.urn: r.outputs for r in plan.registrations}

    assert by_urn(first) == by_urn(second)


def test_availability_zones_are_three_with_region_shaped_ids() -> None:
    from pulumi.runtime import MockCallArgs

    from preview.cloud import SimulatedCloud

    token = "aws:index/getAvailabilityZones:getAvailabilityZones"
    cloud = SimulatedCloud(region="ap-northeast-1")
    result, _ = cloud.call(MockCallArgs(token=token, args={}, provider=""))
    assert result["names"] == ["ap-northeast-1a", "ap-northeast-1b", "ap-northeast-1c"]
    assert result["zoneIds"] == ["apne1-az1", "apne1-az2", "apne1-az3"]
    excluded = {"excludeNames": ["ap-northeast-1b"]}
    result, _ = cloud.call(MockCallArgs(token=token, args=excluded, provider=""))
    assert result["names"] == ["ap-northeast-1a", "ap-northeast-1c"]


def test_ecr_credentials_decode_as_a_docker_login() -> None:
    import base64

    from pulumi.runtime import MockCallArgs

    from preview.cloud import SimulatedCloud

    cloud = SimulatedCloud(region="eu-west-1")
    for token in (
        "aws:ecr/getCredentials:getCredentials",
        "aws:ecr/getAuthorizationToken:getAuthorizationToken",
    ):
        args = {"registryId": "210987654321"}
        result, _ = cloud.call(MockCallArgs(token=token, args=args, provider=""))
        user, password = base64.b64decode(result["authorizationToken"]).decode().split(":")
        assert (user, password) == ("AWS", result["password"])
        assert result["proxyEndpoint"] == "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com"
        assert result["registryId"] == "210987654321"
