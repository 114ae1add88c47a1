"""waiting-room handlers against moto (DynamoDB, Secrets Manager, the WebSocket management
API) with a frozen clock, driven by the API Gateway, authorizer, schedule, stream and
rotation events under tests/events/waiting-room/.

Failure modes moto cannot produce (a transaction conflict, a departed WebSocket client)
are answered at botocore's `before-call` hook, the mechanism botocore's `Stubber` uses:
chosen calls get the real error response, every other call still reaches moto.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws
from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends

from bench.bench_waiting_room import Sale, create_tables, simulate

PATTERN = "waiting-room"
REGION = "eu-west-1"
ACCOUNT = "123456789012"
NOW = 1_780_653_600  # 2026-06-05T10:00:00Z
KEY = bytes(range(101, 133))  # the signing key's 32 bytes
CALLBACK_URL = f"https://w9x8y7z6v5.execute-api.{REGION}.amazonaws.com/live"
TTL_S = 600

pytestmark = pytest.mark.disable_socket

LoadFunction = Callable[[str, str], ModuleType]
LoadEvent = Callable[[str, str], dict[str, Any]]


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# Fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def names(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    with mock_aws():
        names = create_tables(boto3.client("dynamodb", region_name=REGION), "wr")
        secrets = boto3.client("secretsmanager", region_name=REGION)
        secret = secrets.create_secret(Name="wr-signing-key", SecretString=_b64(KEY))
        names["secret"] = secret["ARN"]
        for variable, value in {
            "ZONES_TABLE": names["zones"],
            "COUNTERS_TABLE": names["counters"],
            "QUEUE_TABLE": names["queue"],
            "CONNECTIONS_TABLE": names["connections"],
            "SESSIONS_TABLE": names["sessions"],
            "SIGNING_SECRET_ARN": secret["ARN"],
            "ACCESS_TTL_S": str(TTL_S),
            "ABANDON_AFTER_S": "900",
            "VISITOR_COOKIE": "vwr_visitor",
            "ROOM_NAME": "room",
        }.items():
            monkeypatch.setenv(variable, value)
        monkeypatch.delenv("CALLBACK_URL", raising=False)
        yield names


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def table(name: str) -> Any:
    return boto3.resource("dynamodb", region_name=REGION).Table(name)


def frozen(module: ModuleType, clock: Clock) -> ModuleType:
    """Point every clock the module's objects hold at the frozen one."""
    for value in list(vars(module).values()):
        state = getattr(value, "__dict__", {})
        sender = state.get("sender")
        registry = getattr(sender, "registry", None)
        signer = state.get("signer") or state.get("_signer")
        for holder in (value, state.get("tables"), signer, registry):
            if holder is None:
                continue
            if hasattr(holder, "clock") and callable(getattr(holder, "clock", None)):
                holder.clock = clock
            ring = getattr(holder, "ring", None)
            if ring is not None:
                ring._clock = clock
        if hasattr(state.get("tables"), "sleep"):
            state["tables"].sleep = lambda _s: None
    return module


@pytest.fixture
def load(load_function: LoadFunction, clock: Clock) -> Callable[[str], ModuleType]:
    def loaded(module: str) -> ModuleType:
        return frozen(load_function(PATTERN, module), clock)

    return loaded


def put_zone(names: dict[str, str], zone_id: str = "launch", **config: Any) -> None:
    item = {"zoneId": zone_id, "mode": "QUEUE", "maxInZone": 100, "ordering": "FIFO"}
    item.update(config)
    table(names["zones"]).put_item(Item={k: v for k, v in item.items() if v is not None})


def visitor_items(names: dict[str, str]) -> dict[str, dict[str, Any]]:
    items = table(names["queue"]).scan()["Items"]
    return {i["visitorId"]: i for i in items if str(i["sk"]).startswith("visitor#")}


def totals(names: dict[str, str], zone_id: str = "launch") -> dict[str, Any]:
    found: dict[str, Any] = (
        table(names["counters"]).get_item(Key={"zoneId": zone_id, "name": "totals"}).get("Item")
        or {}
    )
    return found


def body(response: dict[str, Any]) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(response["body"])
    return parsed


def logged(output: str) -> list[dict[str, Any]]:
    records = []
    for line in output.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "level" in record:
            records.append(record)
    return records


def errors(output: str) -> list[dict[str, Any]]:
    return [r for r in logged(output) if r["level"] == "ERROR"]


def emitted(output: str) -> dict[str, list[float]]:
    """Metric name -> every value in the EMF blobs printed."""
    found: dict[str, list[float]] = {}
    for line in output.splitlines():
        try:
            blob = json.loads(line)
        except ValueError:
            continue
        if not isinstance(blob, dict) or "_aws" not in blob:
            continue
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = blob[metric["Name"]]
                found.setdefault(metric["Name"], []).extend(
                    value if isinstance(value, list) else [value]
                )
    return found


# A visitor's round trip through the authorizer and a route ----------------------------------


class Browser:
    """One visitor: keeps the cookie the API sets and sends it back, like a browser."""

    def __init__(self, load: Callable[[str], ModuleType], load_event: LoadEvent, context: Any):
        self.load, self.load_event, self.context = load, load_event, context
        self.cookie: str | None = None

    def authorize(self, kind: str) -> dict[str, Any]:
        event = self.load_event(PATTERN, f"authorizer-{kind}")
        headers = {k: v for k, v in event["headers"].items() if k != "Cookie"}
        if self.cookie is not None:
            headers["Cookie"] = f"theme=dark; vwr_visitor={self.cookie}"
        event["headers"] = headers
        event["multiValueHeaders"] = {k: [v] for k, v in headers.items()}
        result: dict[str, Any] = self.load("visitor_auth").handler(event, self.context)
        return result

    def call(self, route: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        kind = "enter" if route == "enter" else "status"
        decision = self.authorize(kind)
        event = self.load_event(PATTERN, f"rest-{route}")
        event["requestContext"]["authorizer"] = {
            **decision["context"],
            "principalId": decision["principalId"],
        }
        event["headers"].pop("Cookie", None)
        if payload is not None:
            event["body"] = json.dumps(payload)
        response: dict[str, Any] = self.load(route).handler(event, self.context)
        set_cookie = response.get("headers", {}).get("Set-Cookie")
        if set_cookie:
            self.cookie = set_cookie.split(";", 1)[0].split("=", 1)[1]
        return response

    @property
    def visitor_id(self) -> str:
        assert self.cookie is not None
        return self.cookie.split(".")[1]


@pytest.fixture
def browser(load: Callable[[str], ModuleType], load_event: LoadEvent, lambda_context: Any):
    return lambda: Browser(load, load_event, lambda_context)


# Entering --------------------------------------------------------------------------------


def test_a_first_visit_gets_a_cookie_and_entering_twice_keeps_one_position(names, browser):
    put_zone(names)
    visitor = browser()

    first = visitor.call("enter")
    assert first["statusCode"] == 201
    cookie = first["headers"]["Set-Cookie"]
    assert cookie.startswith("vwr_visitor=vc1.")
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie
    assert body(first)["status"] == "WAITING"
    assert body(first)["pushTicket"].startswith(f"pt1.{visitor.visitor_id}.")
    position = visitor_items(names)[visitor.visitor_id]["position"]

    again = visitor.call("enter")
    assert again["statusCode"] == 200
    assert "Set-Cookie" not in again["headers"]
    assert body(again)["place"] == 1
    items = visitor_items(names)
    assert list(items) == [visitor.visitor_id]
    assert items[visitor.visitor_id]["position"] == position


def test_a_second_visitor_is_behind_the_first(names, browser):
    put_zone(names)
    first, second = browser(), browser()
    first.call("enter")
    second.call("enter")
    assert body(first.call("status"))["place"] == 1
    assert body(second.call("status"))["place"] == 2
    positions = {v: i["position"] for v, i in visitor_items(names).items()}
    assert positions[first.visitor_id] < positions[second.visitor_id]


def test_concurrent_duplicate_entries_keep_one_position(names, load, clock):
    """Two entries of one visitor racing: both take a seq, one put wins, the other gets the
    winner's position back (its seq is just a gap)."""
    put_zone(names)
    enter = load("enter")
    visitors, zone = enter.room, enter.zone_cache.get("launch")
    original = visitors.tables.visitor
    raced = {"done": False}

    def racing_read(zone_id: str, visitor_id: str, *, consistent: bool = False) -> Any:
        found = original(zone_id, visitor_id, consistent=consistent)
        if not consistent and not raced["done"]:
            raced["done"] = True  # the other request passes its read here and enters first
            visitors.enter(zone, visitor_id)
        return found

    visitors.tables.visitor = racing_read
    view = visitors.enter(zone, "a" * 32)
    assert not view.entered and view.status == "WAITING"
    items = visitor_items(names)
    assert list(items) == ["a" * 32]
    assert items["a" * 32]["seq"] == 1  # the winner's; seq 2 was lost to the race
    seq = table(names["counters"]).get_item(Key={"zoneId": "launch", "name": "seq"})["Item"]
    assert seq["nextSeq"] == 2


# Admission -------------------------------------------------------------------------------


def _admitter(load: Callable[[str], ModuleType], lambda_context: Any, load_event: LoadEvent):
    admitter = load("admitter")
    return lambda: admitter.handler(load_event(PATTERN, "schedule-admitter"), lambda_context)


def _enter_many(names: dict[str, str], load: Callable[[str], ModuleType], count: int, clock: Clock):
    enter = load("enter")
    zone = enter.zone_cache.get("launch")
    ids = [f"{i:032x}" for i in range(1, count + 1)]
    for visitor_id in ids:
        enter.room.enter(zone, visitor_id)
        clock.now += 1
    return ids


def test_priority_visitors_go_before_earlier_fifo_visitors(
    names, load, load_event, lambda_context, clock
):
    put_zone(names, ordering="PRIORITY", maxInZone=2)
    admin_event = load_event(PATTERN, "rest-admin-passes")
    issued = load("admin").handler(admin_event, lambda_context)
    assert issued["statusCode"] == 201
    (first_pass, *_) = body(issued)["passes"]
    standard = _enter_many(names, load, 3, clock)
    enter = load("enter")
    zone = enter.zone_cache.get("launch")
    late = "f" * 32
    view = enter.room.enter(zone, late, enter.room.read_pass(zone, first_pass))
    assert view.priority
    clock.now += 10

    assert _admitter(load, lambda_context, load_event)() == {"admitted": 2}

    statuses = {v: i["status"] for v, i in visitor_items(names).items()}
    assert statuses == {
        late: "ADMITTED",
        standard[0]: "ADMITTED",
        standard[1]: "WAITING",
        standard[2]: "WAITING",
    }


def test_a_pass_places_one_visitor_and_only_for_its_zone(names, load, load_event, lambda_context):
    put_zone(names, ordering="PRIORITY")
    put_zone(names, "other", ordering="PRIORITY")
    (token, *_) = body(
        load("admin").handler(load_event(PATTERN, "rest-admin-passes"), lambda_context)
    )["passes"]
    enter = load("enter")
    launch, other = enter.zone_cache.get("launch"), enter.zone_cache.get("other")
    visitors = enter.room
    first = visitors.enter(launch, "1" * 32, visitors.read_pass(launch, token))
    assert first.priority
    with pytest.raises(visitors_error(enter)) as refused:
        visitors.enter(launch, "2" * 32, visitors.read_pass(launch, token))
    assert refused.value.status == 409
    with pytest.raises(visitors_error(enter)) as elsewhere:
        visitors.read_pass(other, token)
    assert elsewhere.value.status == 403
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    with pytest.raises(visitors_error(enter)):
        visitors.read_pass(launch, forged)


def visitors_error(module: ModuleType) -> type[Exception]:
    error: type[Exception] = module.visitors.VisitorError
    return error


def test_an_exempt_visitor_skips_the_queue_but_takes_a_token(
    names, load, load_event, lambda_context
):
    put_zone(names, exempt=True, tokenPool=1)
    event = load_event(PATTERN, "rest-admin-passes")
    event["body"] = json.dumps({"kind": "exempt", "count": 2})
    first, second = body(load("admin").handler(event, lambda_context))["passes"]
    enter = load("enter")
    zone, visitors = enter.zone_cache.get("launch"), enter.room
    view = visitors.enter(zone, "e" * 32, visitors.read_pass(zone, first))
    assert view.status == "ADMITTED" and view.token is not None
    assert totals(names) == {
        "zoneId": "launch",
        "name": "totals",
        "exemptIssued": 1,
        "exemptActive": 1,
        "tokensUsed": 1,
    }
    with pytest.raises(visitors_error(enter)) as refused:
        visitors.enter(zone, "d" * 32, visitors.read_pass(zone, second))
    assert refused.value.status == 409 and "no access tokens are left" in str(refused.value)


def test_waiting_room_mode_admits_nobody_before_the_sale(
    names, load, load_event, lambda_context, clock
):
    put_zone(names, mode="WAITING_ROOM", saleStartsAt=NOW + 600, releasePerMinute=2, maxInZone=None)
    _enter_many(names, load, 4, clock)
    admit = _admitter(load, lambda_context, load_event)
    clock.now = NOW + 599
    assert admit() == {"admitted": 0}
    clock.now = NOW + 600
    assert admit() == {"admitted": 2}


@pytest.mark.parametrize(
    ("limits", "admitted"),
    [
        ({"releasePerMinute": 3, "maxInZone": 100}, 3),
        ({"maxInZone": 2}, 2),
        ({"maxInZone": 100, "tokenPool": 1}, 1),
    ],
    ids=["rate", "zone-size", "pool"],
)
def test_the_budget_honours_rate_zone_size_and_pool(
    names, load, load_event, lambda_context, clock, limits, admitted
):
    put_zone(names, **limits)
    _enter_many(names, load, 5, clock)
    clock.now += 10
    admit = _admitter(load, lambda_context, load_event)
    assert admit() == {"admitted": admitted}
    assert admit() == {"admitted": 0}  # the same minute, the same zone: nothing more
    state = totals(names)
    assert (state["issued"], state["active"], state["tokensUsed"]) == (admitted,) * 3


def test_two_overlapping_admitter_runs_never_exceed_the_pool(names, load, clock):
    """The second run goes from start to finish inside the first one's first transaction
    (the first has read the counters and the queue by then): the first is refused by the
    counters and admits nothing beyond the pool."""
    put_zone(names, maxInZone=100, tokenPool=5)
    _enter_many(names, load, 12, clock)
    clock.now += 10
    admission, room = load("admission"), load("room")
    resource_a = boto3.resource("dynamodb", region_name=REGION)
    resource_b = boto3.resource("dynamodb", region_name=REGION)

    def admitter(resource: Any) -> Any:
        tables = room.Tables(
            resource.Table(names["zones"]),
            resource.Table(names["counters"]),
            resource.Table(names["queue"]),
            clock=clock,
            sleep=lambda _s: None,
        )
        return admission.Admitter(tables, token_ttl_s=TTL_S)

    first, second = admitter(resource_a), admitter(resource_b)
    inner: dict[str, Any] = {}

    def overlap(**_: Any) -> None:
        if not inner:
            inner["result"] = second.run()

    resource_a.meta.client.meta.events.register("before-call.dynamodb.TransactWriteItems", overlap)
    outer = first.run()

    assert inner["result"].admitted == 5
    assert outer.admitted == 0 and outer.zones[0].refused >= 1
    admitted = [v for v, i in visitor_items(names).items() if i["status"] == "ADMITTED"]
    assert sorted(admitted) == [f"{i:032x}" for i in range(1, 6)]  # the first five, in order
    assert totals(names)["tokensUsed"] == 5


def test_a_transaction_conflict_is_retried(names, load, load_event, lambda_context, clock):
    put_zone(names, maxInZone=3)
    _enter_many(names, load, 3, clock)
    clock.now += 10
    admitter = load("admitter")
    client = admitter.tables.client
    calls: list[int] = []

    def conflict_once(params: dict[str, Any], **_: Any) -> Any:
        items = json.loads(params["body"])["TransactItems"]  # the serialized request
        calls.append(len(items))
        if len(calls) > 1:
            return None
        reasons = [{"Code": "TransactionConflict"}] + [{"Code": "None"}] * (len(items) - 1)
        error = {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"}
        parsed = {"Error": error, "CancellationReasons": reasons}
        parsed["ResponseMetadata"] = {"HTTPStatusCode": 400}
        return AWSResponse("https://dynamodb", 400, {}, None), parsed

    client.meta.events.register("before-call.dynamodb.TransactWriteItems", conflict_once)
    event = load_event(PATTERN, "schedule-admitter")
    assert admitter.handler(event, lambda_context) == {"admitted": 3}
    assert calls == [4, 4]  # the totals item and three visitors, twice


def test_one_zone_failing_does_not_hold_up_the_others(
    names, load, load_event, lambda_context, clock, capsys
):
    put_zone(names, maxInZone=5)
    put_zone(names, "broken", maxInZone=5)
    table(names["zones"]).put_item(Item={"zoneId": "hand-edited", "mode": "RAFFLE"})
    _enter_many(names, load, 2, clock)
    clock.now += 10
    admitter = load("admitter")

    def fail_broken(params: dict[str, Any], **_: Any) -> Any:
        if '"broken"' not in params["body"].decode():
            return None
        error = {"Code": "ValidationException", "Message": "simulated failure"}
        parsed = {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}
        return AWSResponse("https://dynamodb", 400, {}, None), parsed

    admitter.tables.client.meta.events.register("before-call.dynamodb.BatchGetItem", fail_broken)
    capsys.readouterr()

    with pytest.raises(RuntimeError, match=r"admission failed for 1 zone\(s\)"):
        admitter.handler(load_event(PATTERN, "schedule-admitter"), lambda_context)

    statuses = {i["status"] for i in visitor_items(names).values()}
    assert statuses == {"ADMITTED"}  # launch was admitted before and despite `broken`
    lines = [(e["message"], e.get("zoneId")) for e in errors(capsys.readouterr().out)]
    assert sorted(lines) == [
        ("Admission failed for a zone", "broken"),
        ("Zone configuration unusable; the zone is skipped", "hand-edited"),
    ]


# Leaving, completing, sweeping -------------------------------------------------------------


def _access(load: Callable[[str], ModuleType], load_event: LoadEvent, context: Any, **parts: Any):
    """The verify_access decision for an event carrying `token` and `cookie`."""
    event = load_event(PATTERN, "authorizer-verify-access")
    headers = dict(event["headers"])
    headers["Authorization"] = f"Bearer {parts['token']}"
    headers["Cookie"] = f"vwr_visitor={parts['cookie']}"
    if parts.get("zone"):
        event["pathParameters"] = {"zoneId": parts["zone"]}
    event["headers"] = headers
    event["multiValueHeaders"] = {k: [v] for k, v in headers.items()}
    decision: dict[str, Any] = load("verify_access").handler(event, context)
    return decision


def test_leave_returns_the_token_and_complete_does_not(
    names, load, load_event, lambda_context, browser, clock
):
    put_zone(names, maxInZone=10, tokenPool=2)
    alice, bob, carol = browser(), browser(), browser()
    for visitor in (alice, bob, carol):
        visitor.call("enter")
        clock.now += 1
    clock.now += 10
    admit = _admitter(load, lambda_context, load_event)
    assert admit() == {"admitted": 2}
    assert totals(names)["tokensUsed"] == 2

    assert body(alice.call("leave"))["status"] == "LEFT"
    assert (totals(names)["tokensUsed"], totals(names)["active"]) == (1, 1)
    clock.now += 60
    assert admit() == {"admitted": 1}  # the token alice gave back goes to carol
    assert body(carol.call("status"))["status"] == "ADMITTED"

    token = body(bob.call("status"))["accessToken"]
    decision = _access(load, load_event, lambda_context, token=token, cookie=bob.cookie)
    assert decision["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    event = load_event(PATTERN, "rest-complete")
    event["requestContext"]["authorizer"] = {**decision["context"], "principalId": bob.visitor_id}
    completed = load("complete").handler(event, lambda_context)
    assert completed["statusCode"] == 200 and body(completed)["status"] == "COMPLETED"
    assert (totals(names)["tokensUsed"], totals(names)["active"]) == (2, 1)
    again = load("complete").handler(event, lambda_context)
    assert again["statusCode"] == 409
    assert totals(names)["tokensUsed"] == 2
    assert visitor_items(names)[alice.visitor_id]["status"] == "LEFT"


def test_the_sweeper_expires_overdue_tokens_and_drops_silent_visitors(
    names, load, load_event, lambda_context, clock
):
    put_zone(names, maxInZone=2, tokenPool=10)
    ids = _enter_many(names, load, 4, clock)
    clock.now += 10
    admit = _admitter(load, lambda_context, load_event)
    assert admit() == {"admitted": 2}
    status = load("status").room
    clock.now += 100
    status.status("launch", ids[3])  # the last visitor keeps polling; the third does not
    sweep = load("sweeper")
    event = load_event(PATTERN, "schedule-sweeper")

    clock.now = NOW + TTL_S + 5  # before the tokens expire (admitted at NOW + 14)
    assert sweep.handler(event, lambda_context) == {"expired": 0, "abandoned": 0}
    clock.now = NOW + 14 + TTL_S
    assert sweep.handler(event, lambda_context) == {"expired": 2, "abandoned": 0}
    clock.now = NOW + 4 + 900 + 1  # the third visitor's last sign of life was its entry
    status.status("launch", ids[3])
    assert sweep.handler(event, lambda_context) == {"expired": 0, "abandoned": 1}
    items = visitor_items(names)
    assert [items[v]["status"] for v in ids] == ["EXPIRED", "EXPIRED", "LEFT", "WAITING"]
    assert items[ids[2]]["endReason"] == "abandoned"
    assert (totals(names)["active"], totals(names)["tokensUsed"]) == (0, 0)
    assert "waitingZone" not in items[ids[2]] and "admittedZone" not in items[ids[0]]


# Tokens ---------------------------------------------------------------------------------


def _admit_one(names, load, load_event, lambda_context, browser, clock) -> tuple[Browser, str]:
    """A visitor who entered and was admitted, and their access token. Called in the test
    itself: a handler loaded by a fixture logs to the stdout of before capsys."""
    put_zone(names)
    visitor = browser()
    visitor.call("enter")
    clock.now += 10
    _admitter(load, lambda_context, load_event)()
    token = body(visitor.call("status"))["accessToken"]
    return visitor, token


@pytest.fixture
def admitted_visitor(names, load, load_event, lambda_context, browser, clock):
    return _admit_one(names, load, load_event, lambda_context, browser, clock)


def _tamper(token: str) -> str:
    parts = token.split(".")
    parts[3] = str(int(parts[3]) + 3600)  # a later expiry, the signature unchanged
    return ".".join(parts)


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("tampered", "token bad signature"),
        ("expired", "token expired"),
        ("wrong zone", "token for another zone"),
        ("wrong visitor", "token issued to another visitor"),
        ("no cookie", "visitor cookie malformed"),
        ("another kind", "token wrong kind"),
    ],
)
def test_verify_access_refuses_what_it_must(
    capsys, names, browser, load, load_event, lambda_context, clock, case, reason
):
    visitor, token = _admit_one(names, load, load_event, lambda_context, browser, clock)
    parts: dict[str, Any] = {"token": token, "cookie": visitor.cookie}
    signer = load("verify_access").signer
    if case == "tampered":
        parts["token"] = _tamper(token)
    elif case == "expired":
        clock.now += TTL_S
    elif case == "wrong zone":
        parts["zone"] = "other"
    elif case == "wrong visitor":
        parts["cookie"] = signer.visitor_cookie("b" * 32, 3600)
    elif case == "no cookie":
        parts["cookie"] = ""
    elif case == "another kind":
        parts["token"] = signer.push_ticket(visitor.visitor_id, 3600)
    capsys.readouterr()

    decision = _access(load, load_event, lambda_context, **parts)

    assert decision["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert decision["context"] == {"reason": reason}
    refusals = [r for r in logged(capsys.readouterr().out) if r["message"] == "Access refused"]
    assert [r["reason"] for r in refusals] == [reason]


def test_verify_access_allows_the_visitors_own_token(
    admitted_visitor, load, load_event, lambda_context
):
    visitor, token = admitted_visitor
    decision = _access(load, load_event, lambda_context, token=token, cookie=visitor.cookie)
    statement = decision["policyDocument"]["Statement"][0]
    assert statement["Effect"] == "Allow"
    assert statement["Resource"] == [load_event(PATTERN, "authorizer-verify-access")["methodArn"]]
    assert decision["context"]["visitorId"] == visitor.visitor_id
    assert decision["context"]["zoneId"] == "launch"


def test_no_token_at_all_is_401(admitted_visitor, load, load_event, lambda_context):
    event = load_event(PATTERN, "authorizer-verify-access")
    event["headers"] = {k: v for k, v in event["headers"].items() if k != "Authorization"}
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        load("verify_access").handler(event, lambda_context)


def test_the_visitor_authorizer(names, browser, load, load_event, lambda_context):
    put_zone(names)
    visitor = browser()
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        visitor.authorize("status")  # no cookie yet
    visitor.call("enter")
    decision = visitor.authorize("status")
    assert decision["principalId"] == visitor.visitor_id
    arn = load_event(PATTERN, "authorizer-status")["methodArn"].split("/GET/")[0]
    assert decision["policyDocument"]["Statement"][0]["Resource"] == [
        f"{arn}/GET/zones/*/status",
        f"{arn}/POST/zones/*/leave",
    ]
    genuine = visitor.cookie
    visitor.cookie = genuine.replace(visitor.visitor_id, "c" * 32)
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        visitor.authorize("status")
    # A bad cookie at the door is replaced by a new visitor id, not refused.
    entered = visitor.authorize("enter")
    assert entered["context"]["visitorId"] not in (visitor.visitor_id, "c" * 32)
    assert entered["context"]["setCookie"].startswith("vwr_visitor=vc1.")


def test_the_websocket_connect_needs_a_push_ticket(
    names, browser, load, load_event, lambda_context
):
    put_zone(names)
    visitor = browser()
    ticket = body(visitor.call("enter"))["pushTicket"]
    auth = load("visitor_auth")
    event = load_event(PATTERN, "authorizer-websocket-connect")
    event["queryStringParameters"] = {"ticket": ticket}
    decision = auth.handler(event, lambda_context)
    assert decision["context"]["userId"] == visitor.visitor_id
    assert decision["policyDocument"]["Statement"][0]["Resource"] == [event["methodArn"]]
    event["queryStringParameters"] = {"ticket": visitor.cookie}  # a cookie is no push ticket
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        auth.handler(event, lambda_context)


# Push ------------------------------------------------------------------------------------


def test_admitted_visitors_are_pushed_their_turn_and_gone_clients_forgotten(
    names, load, load_event, lambda_context, clock, monkeypatch
):
    monkeypatch.setenv("CALLBACK_URL", CALLBACK_URL)
    put_zone(names, maxInZone=2)
    ids = _enter_many(names, load, 3, clock)
    clock.now += 10
    for index, visitor_id in enumerate(ids):
        table(names["connections"]).put_item(
            Item={
                "connectionId": f"conn-{index}",
                "userId": visitor_id,
                "connectedAt": NOW,
                "expiresAt": NOW + 7200,
            }
        )
    admitter = load("admitter")

    def gone(params: dict[str, Any], **_: Any) -> Any:
        if "conn-1" not in params["url_path"]:
            return None
        error = {"Code": "GoneException", "Message": "gone"}
        return AWSResponse(CALLBACK_URL, 410, {}, None), {
            "Error": error,
            "ResponseMetadata": {"HTTPStatusCode": 410},
        }

    client = admitter.pusher.sender.client
    client.meta.events.register("before-call.apigatewaymanagementapi.PostToConnection", gone)
    result = admitter.handler(load_event(PATTERN, "schedule-admitter"), lambda_context)

    assert result == {"admitted": 2}
    received = apigatewaymanagementapi_backends[ACCOUNT][REGION].connections
    posted = {cid: json.loads(c.data) for cid, c in received.items() if c.data}
    assert posted == {"conn-0": {"type": "admitted", "zoneId": "launch", "next": "status"}}
    remaining = {i["connectionId"] for i in table(names["connections"]).scan()["Items"]}
    assert remaining == {"conn-0", "conn-2"}  # the departed client is forgotten


# Metrics ---------------------------------------------------------------------------------


def test_metrics_emit_queue_length_wait_time_visitors_in_zone_and_drop_offs(
    names, load, load_event, lambda_context, capsys
):
    table(names["counters"]).put_item(
        Item={"zoneId": "launch", "name": "seq", "nextSeq": 43, "departed": 3}
    )
    table(names["counters"]).put_item(
        Item={"zoneId": "launch", "name": "totals", "issued": 30, "active": 12, "exemptActive": 1}
    )
    metrics = load("queue_metrics")
    capsys.readouterr()

    result = metrics.handler(load_event(PATTERN, "stream-batch"), lambda_context)

    assert result == {"batchItemFailures": []}
    found = emitted(capsys.readouterr().out)
    assert found["QueueLength"] == [10]  # 43 positions - 30 admitted - 3 departed
    assert found["VisitorsInZone"] == [13]
    assert found["WaitTime"] == [90]  # admitted at +90 s
    assert found["DropOffs"] == [1]
    assert (found["Entered"], found["Admitted"], found["Completed"]) == ([1], [1], [1])


def test_an_unreadable_stream_record_is_a_batch_failure_with_one_error_line(
    names, load, load_event, lambda_context, capsys
):
    metrics = load("queue_metrics")
    event = load_event(PATTERN, "stream-batch")
    broken = event["Records"][1]
    broken["dynamodb"]["NewImage"]["admittedAt"] = {"N": "soon"}
    capsys.readouterr()

    result = metrics.handler(event, lambda_context)

    assert result == {
        "batchItemFailures": [{"itemIdentifier": broken["dynamodb"]["SequenceNumber"]}]
    }
    lines = errors(capsys.readouterr().out)
    assert [(e["message"], e.get("eventID")) for e in lines] == [
        ("Unreadable stream record", broken["eventID"])
    ]


# Malformed requests ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        (lambda e: e.update(pathParameters={"zoneId": "no such/zone"}), 400, "zoneId must be"),
        (lambda e: e.update(pathParameters={"zoneId": "nowhere"}), 404, "there is no zone"),
        (lambda e: e.update(body="{not json"), 400, "the body must be valid JSON"),
        (lambda e: e.update(body='["pass"]'), 400, "the body must be a JSON object"),
        (lambda e: e.update(body='{"vip": true}'), 400, "unknown field 'vip'"),
        (lambda e: e.update(body='{"pass": "pp1.x"}'), 403, "the pass is not valid (malformed)"),
    ],
)
def test_a_malformed_entry_gets_a_4xx_and_no_error_line(
    names, load, load_event, lambda_context, capsys, change, status, message
):
    put_zone(names)
    event = load_event(PATTERN, "rest-enter")
    change(event)
    enter = load("enter")
    capsys.readouterr()

    response = enter.handler(event, lambda_context)

    assert response["statusCode"] == status
    assert body(response)["error"].startswith(message)
    assert errors(capsys.readouterr().out) == []
    assert visitor_items(names) == {}


def test_a_route_without_its_authorizer_is_a_500_with_one_error_line(
    names, load, load_event, lambda_context, capsys
):
    put_zone(names)
    event = load_event(PATTERN, "rest-status")
    event["requestContext"].pop("authorizer")
    status = load("status")
    capsys.readouterr()
    response = status.handler(event, lambda_context)
    assert response["statusCode"] == 500
    assert [e["message"] for e in errors(capsys.readouterr().out)] == ["Request failed"]


def test_status_of_a_stranger_is_404(names, load, load_event, lambda_context):
    put_zone(names)
    response = load("status").handler(load_event(PATTERN, "rest-status"), lambda_context)
    assert response["statusCode"] == 404


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        ({"mode": "QUEUE"}, 400, "mode QUEUE needs maxInZone"),
        ({"mode": "QUEUE", "maxInZone": 0}, 400, "maxInZone must be a whole number"),
        (
            {"mode": "WAITING_ROOM", "releasePerMinute": 5, "saleStartsAt": "noon"},
            400,
            "saleStartsAt",
        ),
        ({"mode": "QUEUE", "maxInZone": 5, "colour": "red"}, 400, "unknown field 'colour'"),
    ],
)
def test_admin_refuses_a_bad_zone_naming_the_field(
    names, load, load_event, lambda_context, payload, status, message
):
    event = load_event(PATTERN, "rest-admin-put-zone")
    event["body"] = json.dumps(payload)
    response = load("admin").handler(event, lambda_context)
    assert response["statusCode"] == status
    assert message in body(response)["error"]
    assert table(names["zones"]).scan()["Items"] == []


def test_admin_configures_a_zone_but_not_one_the_stack_manages(
    names, load, load_event, lambda_context
):
    admin = load("admin")
    event = load_event(PATTERN, "rest-admin-put-zone")
    response = admin.handler(event, lambda_context)
    assert response["statusCode"] == 200
    assert body(response)["saleStartsAt"] == "2026-06-05T10:00:00+00:00"
    stored = table(names["zones"]).get_item(Key={"zoneId": "launch"})["Item"]
    assert (stored["mode"], stored["saleStartsAt"], stored["tokenPool"]) == (
        "WAITING_ROOM_THEN_QUEUE",
        NOW,
        5000,
    )
    table(names["zones"]).update_item(
        Key={"zoneId": "launch"},
        UpdateExpression="SET managedBy = :p",
        ExpressionAttributeValues={":p": "pulumi"},
    )
    refused = admin.handler(event, lambda_context)
    assert refused["statusCode"] == 409


# The signing key ---------------------------------------------------------------------------


def _start_rotation(secret_arn: str) -> str:
    """What Secrets Manager does when a rotation starts: a new version id labelled
    AWSPENDING, with no value yet. (moto's RotateSecret without a function marks that
    version current at once, so the label is set on moto's store directly.)"""
    from moto.secretsmanager.models import secretsmanager_backends

    token = uuid.uuid4().hex
    secret = secretsmanager_backends[ACCOUNT][REGION].secrets[secret_arn]
    secret.versions[token] = {
        "createdate": NOW,
        "version_id": token,
        "version_stages": ["AWSPENDING"],
    }
    return token


def _rotate(load: Callable[[str], ModuleType], names: dict[str, str], context: Any, load_event):
    """One rotation the way Secrets Manager runs it: a pending version, then the steps."""
    token = _start_rotation(names["secret"])
    rotate = load("rotate_key")
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        event = load_event(PATTERN, "rotation-create-secret")
        event.update(SecretId=names["secret"], ClientRequestToken=token, Step=step)
        rotate.handler(event, context)
    rotate.handler(event, context)  # a retried finishSecret changes nothing
    return token


def test_rotation_keeps_tokens_in_flight_valid_for_one_generation(
    names, load, load_event, lambda_context, clock
):
    verify = load("verify_access")
    signer = verify.signer
    before = signer.access_token("launch", "a" * 32, NOW + 3600)

    _rotate(load, names, lambda_context, load_event)
    secrets = boto3.client("secretsmanager", region_name=REGION)
    current = secrets.get_secret_value(SecretId=names["secret"], VersionStage="AWSCURRENT")[
        "SecretString"
    ]
    assert len(base64.b64decode(current)) == 32 and base64.b64decode(current) != KEY

    clock.now += 301  # the key ring reloads
    after = signer.access_token("launch", "a" * 32, NOW + 3600)
    assert after != before
    assert signer.verify("at1", before)["visitor"] == "a" * 32  # signed with AWSPREVIOUS
    assert signer.verify("at1", after)["visitor"] == "a" * 32

    _rotate(load, names, lambda_context, load_event)
    clock.now += 301
    with pytest.raises(ValueError, match="unknown key"):
        signer.verify("at1", before)  # two rotations back: no longer accepted


def test_a_rotation_step_for_another_secret_is_refused(names, load, load_event, lambda_context):
    event = load_event(PATTERN, "rotation-create-secret")
    event.update(SecretId=names["secret"] + "x", ClientRequestToken="t" * 32)
    with pytest.raises(Exception, match="rotates only the waiting room's signing secret"):
        load("rotate_key").handler(event, lambda_context)


def test_a_placeholder_secret_is_never_a_key(names, load, clock):
    """Right after deployment the secret holds the placeholder until the first rotation:
    nothing may be signed with it (fail closed), and once rotated it is skipped as
    AWSPREVIOUS."""
    secrets = boto3.client("secretsmanager", region_name=REGION)
    secrets.put_secret_value(
        SecretId=names["secret"], SecretString="not-a-key: replaced by the first rotation"
    )
    signer = load("verify_access").signer
    with pytest.raises(RuntimeError, match=r"not base64|fewer than 32 bytes"):
        signer.access_token("launch", "a" * 32, NOW + 60)
    secrets.put_secret_value(SecretId=names["secret"], SecretString=_b64(bytes(32)))
    clock.now += 301
    assert signer.access_token("launch", "a" * 32, NOW + 600).startswith("at1.launch.")


def test_the_signing_key_never_appears_in_logs(
    names, browser, load, load_event, lambda_context, clock, capsys, monkeypatch
):
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    put_zone(names, ordering="PRIORITY")
    visitor, stranger = browser(), browser()
    visitor.call("enter")
    stranger.cookie = "vc1." + "9" * 32 + ".1999999999.000000000000.forged"
    with pytest.raises(Exception, match="Unauthorized"):
        stranger.call("status")
    clock.now += 10
    _admitter(load, lambda_context, load_event)()
    token = body(visitor.call("status"))["accessToken"]
    _access(load, load_event, lambda_context, token=token, cookie=visitor.cookie)
    _access(load, load_event, lambda_context, token=_tamper(token), cookie=visitor.cookie)
    load("admin").handler(load_event(PATTERN, "rest-admin-passes"), lambda_context)
    _rotate(load, names, lambda_context, load_event)
    clock.now += 301
    visitor.call("status")
    secrets = boto3.client("secretsmanager", region_name=REGION)
    keys = [
        KEY,
        base64.b64decode(
            secrets.get_secret_value(SecretId=names["secret"], VersionStage="AWSCURRENT")[
                "SecretString"
            ]
        ),
    ]

    output = capsys.readouterr()
    text = output.out + output.err
    assert logged(output.out), "the handlers logged nothing: the check would prove nothing"
    for key in keys:
        for form in (_b64(key), base64.urlsafe_b64encode(key).decode(), key.hex(), repr(key)):
            assert form.rstrip("=") not in text


# The on-sale invariants, small -----------------------------------------------------------------


SMALL = {
    "visitors": 240,
    "ticks": 8,
    "release_per_minute": 25,
    "max_in_zone": 40,
    "token_pool": 110,
    "token_ttl_s": 180,
    "complete_rate": 0.35,  # short visits: the pool runs out within the eight ticks
    "leave_admitted_rate": 0.05,
    "arrival_ticks": 4,
    "pre_sale_window_s": 120,
    "abandon_after_s": 300,
    "poll_every_ticks": 4,
    "sweep_every_ticks": 2,
    "seed": 7,
}


def test_a_small_sale_where_every_limit_binds_keeps_every_invariant():
    """The benchmark's simulation (bench/bench_waiting_room.py) at a size CI can afford, on
    moto's own transactions; it raises at the first broken invariant, at any tick. Here the
    rate, then the zone's size, then the pool bind, so the counters' conditions are what
    holds the overlapping runs back (without them the zone overfills)."""
    sale = Sale(**SMALL)
    report = simulate(sale)
    assert [t.admitted for t in report.ticks] == [t.expected for t in report.ticks]
    assert report.ticks[0].admitted == sale.release_per_minute
    assert max(t.in_zone for t in report.ticks) == sale.max_in_zone
    assert report.ticks[-1].tokens_used == sale.token_pool
    assert report.overlaps == sale.ticks
    assert report.per_admitted("admitter A", "admitter B") <= 0.6


def test_a_small_sale_whose_queue_drains_keeps_every_invariant():
    """Visitors arrive slower than the release: the budget outlasts the queue, so a run
    holding a stale batch finds room on the counters, and only the visitors' WAITING
    conditions stop it admitting the same visitors twice."""
    sale = Sale(
        **{
            **SMALL,
            "visitors": 150,
            "ticks": 7,
            "release_per_minute": 40,
            "max_in_zone": 1000,
            "token_pool": 1000,
            "arrival_ticks": 6,
            "pre_sale_share": 0.3,
            "seed": 11,
        }
    )
    report = simulate(sale)
    assert [t.admitted for t in report.ticks] == [t.expected for t in report.ticks]
    drained = [t for t in report.ticks if 0 < t.admitted < sale.release_per_minute]
    assert len(drained) >= 3 and all(t.waiting == 0 for t in drained)
    assert report.overlaps == sale.ticks
