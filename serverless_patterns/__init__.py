"""serverless-patterns installed as one package: the components, the Lambda sources they
package and the policy pack that gates them.

- `serverless_patterns.components`: every pattern and its args (`from
  serverless_patterns.components import ScalableWebhook, ScalableWebhookArgs`), the building
  blocks under `serverless_patterns.components.core` (`settings.Settings`, `alarms.AlarmTopic`).
- `policy_pack_dir()`: the CrossGuard pack, for `pulumi preview --policy-pack <dir>`, and
  `profile_path("prod")`, its profiles for `--policy-pack-config`; `python -m
  serverless_patterns --policy-pack` and `--profile prod` print them.
- `functions_dir()`: the Lambda sources the components zip.

In a checkout this folder holds only the package's root: the repository's top-level
`components/`, `functions/` and `policies/` are installed beneath it (`setup.py`).
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent
# Installed, the data sits beside this file; in a checkout, at the repository's top level.
_ROOT = _HERE if (_HERE / "policies").is_dir() else _HERE.parent


def policy_pack_dir() -> Path:
    """The policy pack's folder: PulumiPolicy.yaml, __main__.py, serverless_wa/, profiles/."""
    return _ROOT / "policies"


def profile_names() -> list[str]:
    return sorted(path.stem for path in (policy_pack_dir() / "profiles").glob("*.json"))


def profile_path(name: str) -> Path:
    """The pack's profile `name` (`dev`, `prod`), a `--policy-pack-config` file."""
    path = policy_pack_dir() / "profiles" / f"{name}.json"
    if not path.is_file():
        raise ValueError(f"profile must be one of {', '.join(profile_names())} (got {name!r})")
    return path


def functions_dir() -> Path:
    """The Lambda sources, one zip root per pattern (`components.core.packaging` zips them)."""
    return _ROOT / "functions"


__all__ = ["functions_dir", "policy_pack_dir", "profile_names", "profile_path"]
