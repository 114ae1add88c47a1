"""Provider SDKs loaded one module at a time (`preview.sdk_imports`) give a program the same
objects and names as the SDK's own eager imports, and leave unused modules unrun.

Each case runs in a fresh interpreter: this test process imported `pulumi_aws` long ago."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

_SETUP = "import sys\nfrom preview import sdk_imports\nsdk_imports.install()\n"


def _python(script: str, lazy: bool = True) -> object:
    done = subprocess.run(
        [sys.executable, "-c", (_SETUP if lazy else "import sys\n") + script],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_a_name_is_the_eager_object_and_only_its_module_runs():
    seen = _python(
        "import importlib, json, pulumi_aws as aws\n"
        "bucket = aws.s3.Bucket\n"
        "module = importlib.import_module('pulumi_aws.s3.bucket')\n"
        "print(json.dumps({\n"
        "  'same': bucket is module.Bucket,\n"
        "  'args': aws.s3.BucketArgs is module.BucketArgs,\n"
        "  'input_type': aws.s3.BucketVersioningArgs.__module__,\n"
        "  'unused_run': 'pulumi_aws.s3.bucket_policy' in sys.modules,\n"
        "  'other_services_run': 'pulumi_aws.ec2' in sys.modules and\n"
        "      'pulumi_aws.ec2.instance' in sys.modules,\n"
        "}))\n"
    )
    assert seen == {
        "same": True,
        "args": True,
        "input_type": "pulumi_aws.s3._inputs",
        "unused_run": False,
        "other_services_run": False,
    }


_SAME_NAME = (
    "import json, types, pulumi_aws as aws\n"
    "aws.s3.Bucket, aws.sqs.Queue\n"
    "import pulumi_aws.s3.get_bucket\n"
    "import pulumi_aws.sqs.get_queue\n"
    "print(json.dumps([callable(aws.s3.get_bucket),\n"
    "  isinstance(aws.s3.get_bucket, types.ModuleType),\n"
    "  isinstance(aws.sqs.get_queue, types.ModuleType),\n"
    "  isinstance(aws.s3.outputs, types.ModuleType)]))\n"
)


def test_a_function_named_as_its_module_is_the_function():
    # `from .get_bucket import *` puts the function over the module of the same name; a
    # later import of the module does not put the module back.
    assert _python(_SAME_NAME) == _python(_SAME_NAME, lazy=False) == [True, False, False, True]


_NAMES = (
    "import json, pulumi_aws as aws\n"
    "names = {}\n"
    "used = dict(s3='Bucket', lambda_='Function', iam='Role', ec2='Instance', sqs='Queue')\n"
    "for service, name in used.items():\n"
    "    module = getattr(aws, service)\n"
    "    getattr(module, name)  # without the finder, this runs the whole package\n"
    "    names[service] = sorted(n for n in dir(module) if not n.startswith('__'))\n"
    "star = {}\n"
    "exec('from pulumi_aws.sns import *', star)\n"
    "names['star'] = sorted(n for n in star if not n.startswith('_'))\n"
    "print(json.dumps(names))\n"
)


def test_dir_and_star_import_give_every_name_the_eager_package_has():
    assert _python(_NAMES) == _python(_NAMES, lazy=False)


def test_a_missing_name_is_the_packages_own_error_and_config_loads_eagerly():
    seen = _python(
        "import json, pulumi_aws as aws\n"
        "try:\n"
        "    aws.s3.NoSuchResource\n"
        "except AttributeError as error:\n"
        "    message = str(error)\n"
        "aws.config.region\n"
        "print(json.dumps([message, type(aws.config).__name__,\n"
        "  'pulumi_aws.s3.bucket_policy' in sys.modules]))\n"
    )
    # The package ran its own imports to look for the name, as without the finder.
    assert seen == [
        "module 'pulumi_aws.s3' has no attribute 'NoSuchResource'",
        "_ExportableConfig",
        True,
    ]


@pytest.mark.parametrize("stack", ["scalable-webhook", "prod"])
def test_the_cli_plan_is_the_same_bytes_as_with_eager_imports(tmp_path, stack):
    outputs = {}
    for lazy in (True, False):
        out = tmp_path / f"{lazy}.json"
        run = f"sys.argv = ['preview', '--stack', {stack!r}, '--json', {str(out)!r}, '--quiet']\n"
        script = run + "from preview.__main__ import main\nprint(main())\n"
        assert _python(script, lazy=lazy) == 0
        outputs[lazy] = out.read_bytes()
    assert outputs[True] == outputs[False]


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


_HEADER = "import builtins as _builtins\nfrom .. import _utilities\nimport typing\n"


def test_any_other_package_shape_runs_its_own_init(tmp_path):
    """Only the generated shape loads lazily: a service that star-imports a subpackage, or a
    module without a literal `__all__`, runs its own `__init__` as without the finder."""
    _write(
        tmp_path,
        {
            "sdk/__init__.py": "from . import _utilities\n",
            "sdk/_utilities.py": "",
            "sdk/lazy/__init__.py": _HEADER + "from .one import *\nfrom .two import *\n",
            "sdk/lazy/one.py": "__all__ = ['One']\nOne = 1\n",
            "sdk/lazy/two.py": "__all__ = ['Two', 'One']\nTwo, One = 2, 'two'\n",
            "sdk/nested/__init__.py": _HEADER + "from .inner import *\n",
            "sdk/nested/inner/__init__.py": "Inner = 3\n",
            "sdk/untyped/__init__.py": _HEADER + "from .thing import *\n",
            "sdk/untyped/thing.py": "Thing = 4\n",
        },
    )
    seen = _python(
        f"sys.path.insert(0, {str(tmp_path)!r})\n"
        "import json, sdk.lazy, sdk.nested, sdk.untyped\n"
        "two_first = sdk.lazy.Two\n"
        "print(json.dumps([two_first, 'sdk.lazy.one' in sys.modules, sdk.lazy.One,\n"
        "  sdk.nested.Inner, sdk.untyped.Thing,\n"
        "  [type(m).__name__ for m in (sdk.lazy, sdk.nested, sdk.untyped)]]))\n"
    )
    # `One` is two.py's (the later star import wins), and one.py never ran
    assert seen == [2, False, "two", 3, 4, ["_Package", "module", "module"]]
