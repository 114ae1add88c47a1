"""`python -m preview --program DIR` runs any Pulumi Python program folder offline, as public
programs are written: each fixture under tests/e2e/programs/ is one such program, written to
break the engine in one way it once broke (a resource given as an input, a data source or a
resource type the simulated cloud does not model, an unknown the program makes at preview,
a dict where the SDK types a string, a component of another package, a program that raises)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from preview import gate
from preview.__main__ import main

ROOT = Path(__file__).resolve().parents[2]
PROGRAMS = Path(__file__).resolve().parent / "programs"


def _run(capsys: pytest.CaptureFixture[str], name: str, *args: str) -> tuple[int, str, str]:
    code = main(["--program", str(PROGRAMS / name), *args])
    printed = capsys.readouterr()
    return code, printed.out, printed.err


def _plan(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def _resource(document: dict[str, Any], token: str, name: str) -> dict[str, Any]:
    found = [r for r in document["resources"] if r["type"] == token and r["name"] == name]
    assert len(found) == 1, [r["name"] for r in document["resources"] if r["type"] == token]
    return found[0]


def test_a_resource_given_as_an_input_is_sent_as_its_id_with_the_dependency(tmp_path, capsys):
    out = tmp_path / "plan.json"
    code, _, err = _run(capsys, "resource_inputs", "--no-policy", "--json", str(out))
    assert code == 0, err
    plan = _plan(out)
    role = _resource(plan, "aws:iam/role:Role", "handler-role")
    fn = _resource(plan, "aws:lambda/function:Function", "handler")
    attachment = _resource(
        plan, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "handler-logs"
    )
    permission = _resource(plan, "aws:lambda/permission:Permission", "handler-invoke")
    assert attachment["inputs"]["role"] == role["id"]
    assert attachment["propertyDependencies"]["role"] == [role["urn"]]
    assert role["urn"] in attachment["dependencies"]
    assert permission["inputs"]["function"] == fn["id"]
    assert permission["propertyDependencies"]["function"] == [fn["urn"]]


def test_a_data_source_without_a_model_answers_in_its_sdk_type_and_says_so(tmp_path, capsys):
    out = tmp_path / "plan.json"
    code, _, err = _run(capsys, "data_sources", "--no-policy", "--json", str(out))
    assert code == 0, err
    outputs = _plan(out)["outputs"]
    assert outputs["vpc_cidr"] == "10.0.0.0/16"
    assert outputs["group_vpc"] == outputs["vpc_id"] != ""
    assert outputs["ami_name"] == outputs["ami_name"].upper() != ""
    assert "note: data source aws:ec2/getVpc:getVpc is not modeled offline" in err
    assert "note: data source aws:ec2/getAmi:getAmi is not modeled offline" in err


def test_at_preview_an_output_data_source_is_unknown_and_a_plain_one_made_up(tmp_path, capsys):
    out = tmp_path / "plan.json"
    code, printed, err = _run(
        capsys, "data_sources", "--no-policy", "--preview", "--json", str(out)
    )
    assert code == 0, err
    outputs = _plan(out)["outputs"]
    # the output form carries the engine's unknown; the plain form builds the SDK's result
    # class at once, which refuses unknowns, so it gets plausible values
    assert outputs["ami_id"] == outputs["ami_name"] == gate.UNKNOWN
    assert outputs["vpc_cidr"] == "10.0.0.0/16"
    assert "getAmi:getAmi is not modeled offline: its GetAmiResult has unknown values" in err
    assert "getVpc:getVpc is not modeled offline: its GetVpcResult has made-up values" in err
    assert "ami_id   : output<string>" in printed


def test_outputs_of_resource_types_without_a_model_are_plausible(tmp_path, capsys):
    out = tmp_path / "plan.json"
    code, _, err = _run(capsys, "sdk_outputs", "--no-policy", "--json", str(out))
    assert code == 0, err
    plan = _plan(out)
    outputs = plan["outputs"]
    # the keys the SDK's docs name (`uris["GRAPHQL"]`) are there, each a URL
    assert outputs["graphql_url"].startswith("https://")
    assert outputs["graphql_url"].split("/")[2].endswith(".eu-west-1.amazonaws.com")
    assert outputs["site_url"].startswith("https://") and outputs["site_url"].endswith("/")
    assert outputs["api_key"] and outputs["cdn_zone"]
    cdn = _resource(plan, "aws:cloudfront/distribution:Distribution", "cdn")
    for declared in ("arn", "domainName", "etag", "hostedZoneId", "status", "tagsAll"):
        assert cdn["outputs"][declared] is not None, declared


def test_an_input_echoed_as_an_output_has_the_sdks_type(tmp_path, capsys):
    out = tmp_path / "plan.json"
    code, _, err = _run(capsys, "typed_echo", "--no-policy", "--json", str(out))
    assert code == 0, err
    plan = _plan(out)
    assert plan["outputs"]["trusted_service"] == {"Service": "lambda.amazonaws.com"}
    role = _resource(plan, "aws:iam/role:Role", "worker-role")
    assert isinstance(role["inputs"]["assumeRolePolicy"], dict)  # what the program gave
    assert json.loads(role["outputs"]["assumeRolePolicy"]) == role["inputs"]["assumeRolePolicy"]


def test_an_unknown_the_program_makes_at_preview_is_the_engines_sentinel(tmp_path, capsys):
    out = tmp_path / "plan.json"
    code, _, _ = _run(
        capsys, "preview_unknowns", "--preview", "--profile", "prod", "--json", str(out)
    )
    plan = _plan(out)
    assert "pulumi.output.Unknown" not in out.read_text()
    fn = _resource(plan, "aws:lambda/function:Function", "traced")
    assert fn["inputs"]["tracingConfig"] == {"mode": gate.UNKNOWN}
    assert fn["inputs"]["environment"] == {"variables": {"VPC": gate.UNKNOWN}}
    # LAMBDA-001 (tracing Active, mandatory under prod) never fails on an unknown
    assert [f for f in plan["findings"] if f["id"] == "LAMBDA-001"] == []
    assert code == 0, plan["findings"]


def test_a_component_of_another_package_is_named_as_not_evaluated(tmp_path, capsys):
    out = tmp_path / "plan.json"
    code, _, err = _run(capsys, "remote_component", "--json", str(out))
    assert code == 0, err
    assert "note: not evaluated offline: aws-apigateway:index:RestAPI (api)" in err
    plan = _plan(out)
    assert [n for n in plan["notes"] if "aws-apigateway:index:RestAPI" in n]
    component = _resource(plan, "aws-apigateway:index:RestAPI", "api")
    assert not [r for r in plan["resources"] if r["parent"] == component["urn"]]


def test_a_program_that_raises_exits_2_with_its_own_traceback(capsys):
    code, _, err = _run(capsys, "raises", "--no-policy")
    assert code == 2
    assert 'File "__main__.py", line 9, in <module>' in err
    assert 'File "lib/sizing.py", line 7, in memory_for' in err
    assert err.rstrip().endswith("ValueError: unknown tier 'medium'; tiers: small, large")
    assert "site-packages" not in err and "preview/engine.py" not in err and "runpy" not in err
    # the process is as it was: the program's own modules are not left behind
    assert "lib.sizing" not in sys.modules and Path.cwd() == ROOT


def test_a_program_that_imports_a_package_not_installed_exits_2_naming_it(tmp_path, capsys):
    (tmp_path / "Pulumi.yaml").write_text("name: needs-more\nruntime: python\n")
    (tmp_path / "__main__.py").write_text("import pulumi\nimport pulumi_notinstalled\n")
    assert main(["--program", str(tmp_path), "--no-policy"]) == 2
    err = capsys.readouterr().err
    assert "the program imports pulumi_notinstalled, which is not installed" in err
    assert "requirements.txt" in err
    assert 'File "__main__.py", line 2, in <module>' in err


def test_a_mandatory_finding_exits_1_and_writes_json_and_sarif(tmp_path, capsys):
    json_out, sarif_out = tmp_path / "plan.json", tmp_path / "findings.sarif"
    code, printed, err = _run(
        capsys, "mandatory", "--profile", "prod", "--json", str(json_out), "--sarif", str(sarif_out)
    )
    assert code == 1, err
    assert "[LAMBDA-001]" in printed
    findings = _plan(json_out)["findings"]
    assert {"id": "LAMBDA-001", "enforcement": "mandatory"}.items() <= next(
        f for f in findings if f["id"] == "LAMBDA-001"
    ).items()
    results = json.loads(sarif_out.read_text())["runs"][0]["results"]
    tracing = next(r for r in results if r["ruleId"] == "LAMBDA-001")
    assert tracing["level"] == "error"
    location = tracing["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert location == str(PROGRAMS / "mandatory" / "Pulumi.dev.yaml")
    # the same input gives the same bytes
    first = json_out.read_bytes(), sarif_out.read_bytes()
    assert main(["--program", str(PROGRAMS / "mandatory"), "--profile", "prod", "--quiet",
                 "--json", str(json_out), "--sarif", str(sarif_out)]) == 1  # fmt: skip
    assert (json_out.read_bytes(), sarif_out.read_bytes()) == first


def test_config_comes_from_the_project_file_the_stack_file_and_config_pairs(tmp_path, capsys):
    out = tmp_path / "plan.json"
    code, _, err = _run(
        capsys, "configured", "--no-policy", "--json", str(out), "--config", "extra=given",
        "--config", "configured:greeting=hi",
    )  # fmt: skip
    assert code == 0, err
    assert _plan(out)["outputs"] == {
        "stack": "staging",  # the folder's only stack file
        "project": "configured",
        "region": "eu-central-1",  # template default
        "greeting": "hi",  # --config over the project default
        "owner": "platform",  # template default
        "retries": 5,  # the stack file over the project default
        "memory": 512,  # an object value, as JSON
        "extra": "given",
    }


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--program", "no/such/folder"], "no such folder"),
        (["--program", str(PROGRAMS)], "no Pulumi.yaml"),
        (["--program", str(PROGRAMS / "configured"), "--config", "novalue"], "KEY=VALUE"),
    ],
    ids=["missing", "not-a-project", "bad-pair"],
)
def test_a_folder_that_is_not_a_program_exits_2(capsys, args, expected):
    assert main(args) == 2
    assert expected in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_check_runs_a_program_and_says_which_exit_code_it_returned(tmp_path):
    stamp = tmp_path / "stamp"
    stamp.touch()
    result = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "check",
            f"BIN={Path(sys.executable).parent}",
            f"PREVIEW_STAMP={stamp}",
            f"PROGRAM={PROGRAMS / 'mandatory'}",
            "ARGS=--profile prod --quiet",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "MAKEFLAGS": ""},
    )
    assert result.returncode == 2  # make's own code for a failed recipe
    summary = re.search(r"Policy summary: (\d+) mandatory", result.stdout)
    assert summary and int(summary[1]) >= 1, result.stdout + result.stderr
    assert "make check: exit 1 (a mandatory policy finding" in result.stderr


def test_this_repository_as_a_program_previews_as_its_dev_stack(tmp_path, capsys):
    as_program, as_stack = tmp_path / "program.json", tmp_path / "stack.json"
    # the stack first: the library it imports stays imported (a program run forgets only
    # the modules it imported from the program's folder itself)
    assert main(["--stack", "dev", "--quiet", "--json", str(as_stack)]) == 0
    assert main(["--program", str(ROOT), "--quiet", "--json", str(as_program)]) == 0
    capsys.readouterr()
    assert as_program.read_bytes() == as_stack.read_bytes()


def test_a_program_using_other_packages_sdks_runs(tmp_path, capsys):
    """pulumi_random's password, pulumi_awsx's networks (built by their own provider: their
    outputs are what the SDK declares, the subnet ids laid out as awsx lays them out, so the
    program reads them on and indexes them by zone), two availability zones."""
    out = tmp_path / "plan.json"
    code, _, err = _run(capsys, "other_packages", "--json", str(out))
    assert code == 0, err
    assert "note: not evaluated offline: awsx:ec2:Vpc (net)" in err
    plan = _plan(out)
    password = _resource(plan, "random:index/randomPassword:RandomPassword", "db")
    assert isinstance(password["outputs"]["result"], str) and password["outputs"]["result"]
    vpc = _resource(plan, "awsx:ec2:Vpc", "net")
    assert vpc["outputs"]["vpcId"].startswith("vpc-")
    assert vpc["outputs"]["natGateways"] == []  # resources it would make: none offline
    # awsx's layout: one subnet per spec and zone (default specs: one Private, one Public)
    assert len(vpc["outputs"]["publicSubnetIds"]) == 2 and vpc["outputs"]["isolatedSubnetIds"] == []
    group = _resource(plan, "aws:rds/subnetGroup:SubnetGroup", "db")
    assert group["inputs"]["subnetIds"] == vpc["outputs"]["privateSubnetIds"]
    assert len(set(group["inputs"]["subnetIds"])) == 2
    assert all(i.startswith("subnet-") for i in group["inputs"]["subnetIds"])
    hub = _resource(plan, "awsx:ec2:Vpc", "hub")["outputs"]
    assert [len(hub[k]) for k in ("publicSubnetIds", "privateSubnetIds", "isolatedSubnetIds")] == [
        3, 0, 3,
    ]  # fmt: skip
    third = _resource(plan, "aws:ec2/routeTableAssociation:RouteTableAssociation", "third-zone")
    assert third["inputs"]["subnetId"] == hub["isolatedSubnetIds"][2]
    assert group["inputs"]["tags"] == {"first-zone": "eu-west-1a", "second-zone": "eu-west-1b"}
    assert plan["outputs"]["zones"] == ["euw1-az1", "euw1-az2", "euw1-az3"]


def test_a_missing_required_config_key_says_how_to_pass_it(tmp_path, capsys):
    (tmp_path / "Pulumi.yaml").write_text("name: needs-config\nruntime: python\n")
    (tmp_path / "__main__.py").write_text(
        "import pulumi\n\npassword = pulumi.Config().require('dbPassword')\n"
    )
    assert main(["--program", str(tmp_path), "--no-policy"]) == 2
    err = capsys.readouterr().err
    assert (
        "the program needs the config key needs-config:dbPassword: set it in the stack file "
        "or pass --config needs-config:dbPassword=VALUE"
    ) in err
    assert main(["--program", str(tmp_path), "--no-policy", "--config", "dbPassword=x"]) == 0


def test_file_assets_are_shown_from_the_programs_folder(tmp_path):
    """Relative paths are the program's (its folder is the working directory as it runs);
    `--json` writes them from that folder, wherever the CLI was started."""
    out = tmp_path / "plan.json"
    folder = str(PROGRAMS / "file_assets")
    result = subprocess.run(
        [sys.executable, "-m", "preview", "--program", folder, "--json", str(out), "--quiet"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    plan = _plan(out)
    function = _resource(plan, "aws:lambda/function:Function", "app")
    index = _resource(plan, "aws:s3/bucketObjectv2:BucketObjectv2", "index")
    assert function["inputs"]["code"] == {"path": "app"}
    assert index["inputs"]["source"] == {"path": "site/index.html"}
    assert index["outputs"]["source"] == {"path": "site/index.html"}
