"""A component of another package (a multi-language component, as `pulumi-aws-apigateway`'s
`RestAPI`): its own provider builds its resources, so offline it registers with no children."""

import pulumi
import pulumi_aws as aws


class RestAPI(pulumi.ComponentResource):
    url: pulumi.Output[str]

    def __init__(self, name: str, routes: list[dict[str, str]]) -> None:
        super().__init__(
            "aws-apigateway:index:RestAPI", name, {"routes": routes, "url": None}, remote=True
        )


api = RestAPI("api", routes=[{"path": "/", "method": "GET"}])
bucket = aws.s3.Bucket("assets")
pulumi.export("bucket", bucket.bucket)
