"""Outputs of resource types the simulated cloud does not model, used as programs use them."""

import pulumi
import pulumi_aws as aws

api = aws.appsync.GraphQLApi("graphql", authentication_type="API_KEY", name="tenants")
key = aws.appsync.ApiKey("graphql-key", api_id=api.id)
cdn = aws.cloudfront.Distribution(
    "cdn",
    enabled=True,
    origins=[
        {
            "domain_name": "example.com",
            "origin_id": "site",
            "custom_origin_config": {
                "http_port": 80,
                "https_port": 443,
                "origin_protocol_policy": "https-only",
                "origin_ssl_protocols": ["TLSv1.2"],
            },
        }
    ],
    default_cache_behavior={
        "allowed_methods": ["GET", "HEAD"],
        "cached_methods": ["GET", "HEAD"],
        "target_origin_id": "site",
        "viewer_protocol_policy": "redirect-to-https",
        "cache_policy_id": "658327ea-f89d-4fab-a63d-7e88639e58f6",
    },
    restrictions={"geo_restriction": {"restriction_type": "none"}},
    viewer_certificate={"cloudfront_default_certificate": True},
)
pulumi.export("graphql_url", api.uris["GRAPHQL"])
pulumi.export("api_key", key.key)
pulumi.export("site_url", cdn.domain_name.apply(lambda domain: "https://" + domain + "/"))
pulumi.export("cdn_zone", cdn.hosted_zone_id)
