"""Paths of the installed package's data, for the Pulumi CLI's flags:

    pulumi preview --policy-pack "$(python -m serverless_patterns --policy-pack)" \\
        --policy-pack-config "$(python -m serverless_patterns --profile prod)"
"""

from __future__ import annotations

import argparse
import sys

from serverless_patterns import functions_dir, policy_pack_dir, profile_names, profile_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m serverless_patterns", description="Print a path of the installed package."
    )
    choice = parser.add_mutually_exclusive_group(required=True)
    choice.add_argument(
        "--policy-pack", action="store_true", help="the policy pack's folder (--policy-pack)"
    )
    choice.add_argument(
        "--profile",
        metavar="NAME",
        choices=profile_names(),
        help=f"a profile file (--policy-pack-config): {', '.join(profile_names())}",
    )
    choice.add_argument("--functions", action="store_true", help="the Lambda sources' folder")
    args = parser.parse_args(argv)
    if args.policy_pack:
        path = policy_pack_dir()
    elif args.profile:
        path = profile_path(args.profile)
    else:
        path = functions_dir()
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
