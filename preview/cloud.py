"""A simulated AWS account for Pulumi mocks: realistic ids, ARNs, names and URLs.

`SimulatedCloud` answers the engine's resource registrations and invokes the way the AWS
provider would after a deployment: physical names from inputs or Pulumi-style auto-names,
ARNs in each service's own format, queue and stage URLs, stream ARNs. Values are derived
from the URN, so the same program gives the same plan every run.
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pulumi
from pulumi.runtime import rpc

from . import sdk_types

ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"

# type-token module -> ARN service, where the two differ.
_ARN_SERVICE = {
    "cloudwatch": "cloudwatch",
    "lambda": "lambda",
    "sfn": "states",
    "apigatewayv2": "apigateway",
    "scheduler": "scheduler",
    "pipes": "pipes",
}
_STATE_MACHINE_EPOCH = "2026-01-01T00:00:00.000"


def _digest(*parts: str, length: int = 7) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:length]


def _api_id(*parts: str) -> str:
    """API Gateway style 10-character lowercase id."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    number = int(_digest(*parts, length=16), 16)
    chars = []
    for _ in range(10):
        number, rest = divmod(number, len(alphabet))
        chars.append(alphabet[rest])
    return "".join(chars)


# A result `call` answers for a wholly unknown invoke result (the monitor sends `unknown`).
UNKNOWN_RESULT = "__unknown_result"
# Whether an invoke is the output form (`get_vpc_output`): that form carries unknowns, while
# the plain form (`get_vpc`) builds the SDK's result class at once, which refuses them.
_OUTPUT_FORM: contextvars.ContextVar[bool] = contextvars.ContextVar("output_form", default=False)


@contextmanager
def output_invokes_marked() -> Iterator[None]:
    """While a program runs, output-form invokes are marked for `SimulatedCloud.call`: the
    SDK's `invoke_output` runs under the mark, and its task and the monitor call the task
    makes inherit the context."""
    original = pulumi.runtime.invoke_output

    def marked(*args: Any, **kwargs: Any) -> Any:
        token = _OUTPUT_FORM.set(True)
        try:
            return original(*args, **kwargs)
        finally:
            _OUTPUT_FORM.reset(token)

    pulumi.runtime.invoke_output = marked
    try:
        yield
    finally:
        pulumi.runtime.invoke_output = original


class SimulatedCloud(pulumi.runtime.Mocks):
    def __init__(
        self, region: str = DEFAULT_REGION, account: str = ACCOUNT, preview: bool = False
    ) -> None:
        self.region = region
        self.account = account
        self.preview = preview  # data sources it has no model of answer unknowns
        self.notes: list[str] = []  # what it had to make up, said once each

    # Invokes -----------------------------------------------------------------------------

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        token = args.token
        if token == "aws:index/getRegion:getRegion":
            region = args.args.get("region") or args.args.get("name") or self.region
            return {
                "id": region,
                "name": region,
                "region": region,
                "endpoint": f"ec2.{region}.amazonaws.com",
                "description": region,
            }, []
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "id": self.account,
                "accountId": self.account,
                "arn": f"arn:aws:iam::{self.account}:user/preview",
                "userId": "AIDAPREVIEW",
            }, []
        if token == "aws:index/getPartition:getPartition":
            return {
                "id": "aws",
                "partition": "aws",
                "dnsSuffix": "amazonaws.com",
                "reverseDnsPrefix": "com.amazonaws",
            }, []
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            # Three zones, as every commercial Region has at least; programs take two or three.
            letters = [
                c for c in "abc" if f"{self.region}{c}" not in args.args.get("excludeNames", [])
            ]
            prefix = _zone_id_prefix(self.region)
            return {
                "id": self.region,
                "region": self.region,
                "names": [f"{self.region}{c}" for c in letters],
                "zoneIds": [f"{prefix}-az{i + 1}" for i in range(len(letters))],
                "groupNames": [self.region] if letters else [],
                "state": args.args.get("state") or "available",
            }, []
        if token in (
            "aws:ecr/getAuthorizationToken:getAuthorizationToken",
            "aws:ecr/getCredentials:getCredentials",
        ):
            # A docker login: base64 of user:password, as programs decode it.
            password = f"preview-{_digest(self.account, self.region, length=16)}"
            return {
                "id": self.region,
                "registryId": args.args.get("registryId") or self.account,
                "authorizationToken": base64.b64encode(f"AWS:{password}".encode()).decode(),
                "userName": "AWS",
                "password": password,
                "proxyEndpoint": f"https://{self.account}.dkr.ecr.{self.region}.amazonaws.com",
                "expiresAt": _DATE,
            }, []
        if token == "aws:iam/getPolicyDocument:getPolicyDocument":
            document = policy_document_json(args.args)
            return {
                "id": _digest(json.dumps(document), length=10),
                "json": json.dumps(document, indent=2),
                "minifiedJson": json.dumps(document, separators=(",", ":")),
            }, []
        return self._made_up_invoke(token, args.args)

    def _made_up_invoke(self, token: str, args: dict[str, Any]) -> tuple[dict[str, Any], list]:
        """A data source with no model here: at preview, an output-form invoke's result is
        unknown, as the engine answers an invoke it cannot serve yet (the SDK cannot carry
        unknowns inside its result class); otherwise the SDK's result type with plausible
        values. A note says which, once per data source."""
        result = sdk_types.invoke_result(token)
        if result is None:
            raise NotImplementedError(
                f"the simulated cloud has no answer for invoke {token}, and no installed SDK "
                "declares its result type"
            )
        class_name, properties = result
        unknown = self.preview and _OUTPUT_FORM.get()
        what = "unknown values" if unknown else "made-up values"
        note = f"data source {token} is not modeled offline: its {class_name} has {what}"
        if note not in self.notes:
            self.notes.append(note)
        if unknown:
            return {UNKNOWN_RESULT: True}, []
        values: dict[str, Any] = {}
        context = _Context(self, token, token.rsplit(":", 1)[-1], str(args.get("name") or ""))
        for prop in properties:
            if prop.name in args and args[prop.name] is not None:
                values[prop.name] = args[prop.name]  # a filter argument the result echoes
            else:
                value = context.plausible(prop.name, prop.kind, prop.doc)
                if value is not _NONE:
                    values[prop.name] = value
        values.setdefault("id", context.identifier("id"))
        return values, []

    # Resources ---------------------------------------------------------------------------

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        if not args.custom and not args.typ.startswith("pulumi:providers:"):
            # A component: the program's own has no outputs here; one of another package
            # (built by its provider, `awsx.ec2.Vpc`) gets what its SDK class declares, so
            # that a program reading `vpc.private_subnet_ids` runs on.
            # Its inputs are not its outputs (`nat_gateways` configures, then lists gateways).
            shape = sdk_types.resource_shape(args.typ)
            if shape is None:
                return None, {}
            context = _Context(self, args.typ, args.name, "")
            values = {p.name: context.plausible(p.name, p.kind, p.doc) for p in shape.properties}
            if args.typ == "awsx:ec2:Vpc":
                values.update(_awsx_subnet_ids(context, args.inputs))
            return None, {name: value for name, value in values.items() if value is not _NONE}
        state = dict(args.inputs)
        state.update(self._outputs(args.typ, args.name, args.inputs))
        shape = sdk_types.resource_shape(args.typ)
        if shape is not None:
            self._conform(args.typ, args.name, state, shape)
        resource_id = state.pop("__id", None) or state.get("name") or args.name
        if args.resource_id:
            resource_id = args.resource_id
        return str(resource_id), state

    def _conform(
        self, typ: str, logical: str, state: dict[str, Any], shape: sdk_types.ResourceShape
    ) -> None:
        """State as the SDK declares it: an input echoed as a string where the SDK types the
        output a string (a policy given as a dict comes back as its JSON), and a plausible
        value for every output-only property no model above set (`uris`, `domainName`)."""
        for key in shape.strings.intersection(state):
            value = state[key]
            if isinstance(value, dict | list):
                if rpc.is_rpc_secret(value):
                    inner = rpc.unwrap_rpc_secret(value)
                    if isinstance(inner, dict | list):
                        state[key] = rpc.wrap_rpc_secret(json.dumps(inner))
                else:
                    state[key] = json.dumps(value)
        context: _Context | None = None
        for prop in shape.outputs:
            if prop.name == "tagsAll":  # the resource's tags with the provider's (none here)
                state[prop.name] = state.get("tags") or {}
            elif prop.name not in state:
                context = context or _Context(self, typ, logical, str(state.get("name") or ""))
                value = context.plausible(prop.name, prop.kind, prop.doc)
                if value is not _NONE:
                    state[prop.name] = value

    def _outputs(self, typ: str, logical: str, inputs: dict[str, Any]) -> dict[str, Any]:
        if typ.startswith("pulumi:providers:"):
            return {"__id": _digest(typ, logical, length=8)}
        package, _, rest = typ.partition(":")
        module = rest.split("/")[0].split(":")[0]
        kind = typ.rsplit(":", 1)[-1]
        region, account = inputs.get("region") or self.region, self.account
        name = inputs.get("name") or f"{logical}-{_digest(typ, logical)}"
        service = _ARN_SERVICE.get(module, module)
        arn = f"arn:aws:{service}:{region}:{account}:{kind.lower()}/{name}"
        out: dict[str, Any] = {"name": name, "arn": arn}
        if package != "aws":
            return out

        if typ == "aws:lambda/function:Function":
            arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
            out.update(
                arn=arn,
                qualifiedArn=f"{arn}:$LATEST",
                invokeArn=(
                    f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations"
                ),
                version="$LATEST",
                lastModified="2026-01-01T00:00:00.000+0000",
            )
        elif typ == "aws:sqs/queue:Queue":
            url = f"https://sqs.{region}.amazonaws.com/{account}/{name}"
            out.update(arn=f"arn:aws:sqs:{region}:{account}:{name}", url=url, __id=url)
        elif typ == "aws:dynamodb/table:Table":
            arn = f"arn:aws:dynamodb:{region}:{account}:table/{name}"
            out.update(arn=arn)
            if inputs.get("streamEnabled"):
                out.update(streamArn=f"{arn}/stream/{_STATE_MACHINE_EPOCH}", streamLabel="2026")
        elif typ == "aws:iam/role:Role":
            out.update(arn=f"arn:aws:iam::{account}:role/{name}", uniqueId=f"AROA{_digest(name)}")
        elif typ == "aws:iam/policy:Policy":
            out.update(arn=f"arn:aws:iam::{account}:policy/{name}")
        elif typ == "aws:iam/rolePolicy:RolePolicy":
            out.update(__id=f"{inputs.get('role', 'role')}:{name}")
        elif typ == "aws:iam/rolePolicyAttachment:RolePolicyAttachment":
            out.update(__id=f"{inputs.get('role', 'role')}-{_digest(logical, length=8)}")
        elif typ == "aws:cloudwatch/logGroup:LogGroup":
            out.update(arn=f"arn:aws:logs:{region}:{account}:log-group:{name}")
        elif typ == "aws:cloudwatch/metricAlarm:MetricAlarm":
            out.update(arn=f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}")
        elif typ == "aws:sns/topic:Topic":
            out.update(arn=f"arn:aws:sns:{region}:{account}:{name}")
        elif typ == "aws:sfn/stateMachine:StateMachine":
            out.update(arn=f"arn:aws:states:{region}:{account}:stateMachine:{name}")
        elif typ == "aws:s3/bucket:Bucket":
            bucket = inputs.get("bucket") or name
            out.update(
                bucket=bucket,
                arn=f"arn:aws:s3:::{bucket}",
                bucketDomainName=f"{bucket}.s3.amazonaws.com",
                bucketRegionalDomainName=f"{bucket}.s3.{region}.amazonaws.com",
                __id=bucket,
            )
        elif typ == "aws:apigateway/restApi:RestApi":
            api = _api_id(typ, logical)
            out.update(
                __id=api,
                rootResourceId=_api_id("root", logical),
                arn=f"arn:aws:apigateway:{region}::/restapis/{api}",
                executionArn=f"arn:aws:execute-api:{region}:{account}:{api}",
            )
        elif typ == "aws:apigateway/stage:Stage":
            api, stage = inputs.get("restApi", "api"), inputs.get("stageName", "stage")
            out.update(
                __id=f"ags-{api}-{stage}",
                arn=f"arn:aws:apigateway:{region}::/restapis/{api}/stages/{stage}",
                invokeUrl=f"https://{api}.execute-api.{region}.amazonaws.com/{stage}",
                executionArn=f"arn:aws:execute-api:{region}:{account}:{api}/{stage}",
            )
        elif typ.startswith("aws:apigateway/"):
            out.update(__id=_api_id(typ, logical))
        elif typ == "aws:apigatewayv2/api:Api":
            api = _api_id(typ, logical)
            scheme = "wss" if inputs.get("protocolType") == "WEBSOCKET" else "https"
            out.update(
                __id=api,
                arn=f"arn:aws:apigateway:{region}::/apis/{api}",
                apiEndpoint=f"{scheme}://{api}.execute-api.{region}.amazonaws.com",
                executionArn=f"arn:aws:execute-api:{region}:{account}:{api}",
            )
        elif typ == "aws:apigatewayv2/stage:Stage":
            api, stage = inputs.get("apiId", "api"), inputs.get("name", "stage")
            out.update(
                __id=stage,
                arn=f"arn:aws:apigateway:{region}::/apis/{api}/stages/{stage}",
                executionArn=f"arn:aws:execute-api:{region}:{account}:{api}/{stage}",
            )
        elif typ.startswith("aws:apigatewayv2/"):
            out.update(__id=_api_id(typ, logical))
        elif typ == "aws:secretsmanager/secret:Secret":
            # Secrets Manager appends six random characters; the provider's id is the ARN.
            suffix = _digest(name, length=6)
            arn = f"arn:aws:secretsmanager:{region}:{account}:secret:{name}-{suffix}"
            out.update(arn=arn, __id=arn)
        elif typ == "aws:scheduler/schedule:Schedule":
            group = inputs.get("groupName") or "default"
            out.update(arn=f"arn:aws:scheduler:{region}:{account}:schedule/{group}/{name}")
        elif typ == "aws:cloudwatch/eventBus:EventBus":
            out.update(arn=f"arn:aws:events:{region}:{account}:event-bus/{name}")
        elif typ == "aws:cloudwatch/eventRule:EventRule":
            bus = inputs.get("eventBusName") or "default"
            path = name if bus == "default" else f"{bus}/{name}"
            out.update(arn=f"arn:aws:events:{region}:{account}:rule/{path}", __id=f"{bus}/{name}")
        elif typ == "aws:cloudwatch/eventArchive:EventArchive":
            out.update(arn=f"arn:aws:events:{region}:{account}:archive/{name}")
        elif typ == "aws:glue/catalogDatabase:CatalogDatabase":
            out.update(
                arn=f"arn:aws:glue:{region}:{account}:database/{name}",
                catalogId=account,
                __id=f"{account}:{name}",
            )
        elif typ == "aws:glue/catalogTable:CatalogTable":
            database = inputs.get("databaseName", "database")
            out.update(
                arn=f"arn:aws:glue:{region}:{account}:table/{database}/{name}",
                catalogId=account,
                __id=f"{account}:{database}:{name}",
            )
        elif typ == "aws:cognito/userPool:UserPool":
            pool = f"{region}_{_api_id(typ, logical)[:9]}"
            out.update(
                __id=pool,
                arn=f"arn:aws:cognito-idp:{region}:{account}:userpool/{pool}",
                endpoint=f"cognito-idp.{region}.amazonaws.com/{pool}",
            )
        elif typ == "aws:cognito/userPoolClient:UserPoolClient":
            out.update(__id=(_api_id(typ, logical) + _api_id(logical, typ) * 2)[:26])
        elif typ == "aws:lambda/eventSourceMapping:EventSourceMapping":
            digest = _digest(typ, logical, length=32)
            uuid = f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:]}"
            out.update(
                __id=uuid, uuid=uuid, functionArn=inputs.get("functionName"), state="Enabled"
            )
            out.pop("name")
        return out


def _zone_id_prefix(region: str) -> str:
    """The Region's part of its zone ids: us-east-1 -> use1, ap-northeast-1 -> apne1."""
    country, *direction, number = region.split("-")
    compass = "".join(direction)
    for word, letter in (("north", "n"), ("south", "s"), ("east", "e"), ("west", "w")):
        compass = compass.replace(word, letter)
    return f"{country}{compass.replace('central', 'c')}{number}"


# (what an id property names, the prefix of AWS's ids for it), the longest names first
_ID_PREFIXES = (
    ("securitygroup", "sg"),
    ("internetgateway", "igw"),
    ("transitgateway", "tgw"),
    ("networkinterface", "eni"),
    ("routetable", "rtb"),
    ("natgateway", "nat"),
    ("allocation", "eipalloc"),
    ("snapshot", "snap"),
    ("instance", "i"),
    ("subnet", "subnet"),
    ("volume", "vol"),
    ("image", "ami"),
    ("vpc", "vpc"),
)
_NONE = object()  # no plausible value (a resource reference, an untyped value)
_DATE = "2026-01-01T00:00:00Z"


class _Context:
    """Plausible values for one resource's (or data source's) properties, by name and type."""

    def __init__(self, cloud: SimulatedCloud, typ: str, logical: str, name: str) -> None:
        package, _, rest = typ.partition(":")
        module = rest.split("/")[0].split(":")[0]
        self.typ, self.logical = typ, logical
        self.region, self.account = cloud.region, cloud.account
        self.service = _ARN_SERVICE.get(module, module) if package == "aws" else package
        self.kind = typ.rsplit(":", 1)[-1]
        self.name = name or f"{logical}-{_digest(typ, logical)}"

    def identifier(self, prop: str) -> str:
        """An id shaped as AWS shapes the thing the property names (`privateSubnetIds` ->
        subnet-...), else as the resource's kind."""
        noun = prop.lower().removesuffix("s").removesuffix("id")
        prefix = next((p for n, p in _ID_PREFIXES if noun.endswith(n)), self.kind.lower()[:8])
        return f"{prefix}-{_digest(self.typ, self.logical, prop, length=12)}"

    def host(self) -> str:
        return f"{_api_id(self.typ, self.logical)}.{self.service}.{self.region}.amazonaws.com"

    def text(self, prop: str) -> str:
        lowered = prop.lower()
        if lowered.endswith("arn"):
            where = f"{self.service}:{self.region}:{self.account}"
            return f"arn:aws:{where}:{self.kind.lower()}/{self.name}"
        if lowered in ("accountid", "ownerid", "owneraccountid"):
            return self.account
        if lowered.endswith("region"):
            return self.region
        if lowered.endswith(("cidrblock", "cidr")):
            return "10.0.0.0/16"
        if lowered.endswith(("url", "uri", "uris", "urls")):
            return f"https://{self.host()}/"
        if lowered.endswith("endpoint") or lowered.endswith("endpoints"):
            return f"https://{self.host()}"
        if lowered.endswith(("domainname", "domain", "hostname", "dnsname", "fqdn")):
            return self.host()
        if lowered.endswith("name"):
            return self.name
        if lowered.endswith(("date", "time", "created", "modified")):
            return _DATE
        return self.identifier(prop)

    def plausible(self, prop: str, kind: sdk_types.Kind, doc: str = "") -> Any:
        if kind.kind == sdk_types.STR:
            return self.text(prop)
        if kind.kind == sdk_types.INT:
            return 443 if prop.lower().endswith("port") else 0
        if kind.kind == sdk_types.FLOAT:
            return 0.0
        if kind.kind == sdk_types.BOOL:
            return False
        if kind.kind == sdk_types.LIST:
            # one item, so that a program can read the first (`options[0].record_name`)
            item = self.plausible(prop, kind.item) if kind.item else _NONE
            return [] if item is _NONE else [item]
        if kind.kind == sdk_types.MAP:
            # keys the SDK's docs show (`uris["GRAPHQL"]`), each with a value of its type
            keys = sorted(set(re.findall(r'\w+\["([^"\\]+)"\]', doc)))
            values = {k: self.plausible(prop, kind.item, "") for k in keys} if kind.item else {}
            return {k: v for k, v in values.items() if v is not _NONE}
        if kind.kind == sdk_types.OBJECT:
            fields = {
                f.name: self.plausible(f.name, f.kind, f.doc)
                for f in kind.fields
                if not f.kind.optional
            }
            return {k: v for k, v in fields.items() if v is not _NONE}
        return _NONE


def policy_document_json(args: dict[str, Any]) -> dict[str, Any]:
    """What `aws.iam.get_policy_document` renders for its (camelCase) statements."""

    def principals(items: list[dict[str, Any]]) -> dict[str, Any]:
        grouped: dict[str, list[str]] = {}
        for item in items:
            grouped.setdefault(item["type"], []).extend(item.get("identifiers", []))
        return {k: v[0] if len(v) == 1 else v for k, v in grouped.items()}

    statements = []
    for raw in args.get("statements") or []:
        statement: dict[str, Any] = {"Effect": raw.get("effect", "Allow")}
        for source, target in (
            ("sid", "Sid"),
            ("actions", "Action"),
            ("notActions", "NotAction"),
            ("resources", "Resource"),
            ("notResources", "NotResource"),
        ):
            value = raw.get(source)
            if value:
                statement[target] = (
                    value[0] if isinstance(value, list) and len(value) == 1 else value
                )
        if raw.get("principals"):
            principal = principals(raw["principals"])
            statement["Principal"] = "*" if principal == {"*": "*"} else principal
        if raw.get("conditions"):
            condition: dict[str, dict[str, Any]] = {}
            for item in raw["conditions"]:
                values = item.get("values", [])
                condition.setdefault(item["test"], {})[item["variable"]] = (
                    values[0] if len(values) == 1 else values
                )
            statement["Condition"] = condition
        statements.append(statement)
    return {"Version": args.get("version") or "2012-10-17", "Statement": statements}


_SUBNET_TYPES = {  # awsx's subnet type -> the Vpc output listing their ids
    "Public": "publicSubnetIds",
    "Private": "privateSubnetIds",
    "Isolated": "isolatedSubnetIds",
}


def _awsx_subnet_ids(context: _Context, inputs: Mapping[str, Any]) -> dict[str, list[str]]:
    """`awsx.ec2.Vpc`'s subnet ids as awsx lays them out: one subnet per spec and zone, in
    the zones named, else in `numberOfAvailabilityZones` (3 by default); the specs given,
    else one Public and one Private. (Programs index them by zone: `public_subnet_ids[2]`.)"""
    zones = inputs.get("availabilityZoneNames")
    count = len(zones) if isinstance(zones, list) else inputs.get("numberOfAvailabilityZones")
    # numbers arrive as the protocol carries them, as floats
    count = int(count) if isinstance(count, int | float) and not isinstance(count, bool) else 3
    specs = inputs.get("subnetSpecs")
    if not isinstance(specs, list):
        specs = [{"type": "Private"}, {"type": "Public"}]
    ids: dict[str, list[str]] = {key: [] for key in _SUBNET_TYPES.values()}
    for number, spec in enumerate(specs):
        key = _SUBNET_TYPES.get(str(spec.get("type"))) if isinstance(spec, Mapping) else None
        if key is not None:
            made = (
                _digest(context.typ, context.logical, str(number), str(zone), length=12)
                for zone in range(count)
            )
            ids[key] += [f"subnet-{digest}" for digest in made]
    return ids
