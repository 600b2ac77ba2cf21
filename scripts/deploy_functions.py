#!/usr/bin/env python3
"""Roll the packaged handlers out to a recovery's functions, gradually (the Deploy stage).

For each function named in ``HEALSTACK_DEPLOY_TARGETS`` (JSON, set on the deploy build by
synthesis: ``{"application": ..., "alias": "live", "functions": {name: deployment group}}``):

1. read the function's handler and take that handler's zip from the Package stage's
   ``manifest.json`` (``healstack package``);
2. skip the function when its alias already serves exactly that code (same CodeSha256);
3. upload the zip and publish a version, wait until the version is active;
4. start a CodeDeploy deployment that shifts the alias from its current version to the new
   one, as the deployment group says (canary / linear / all at once; the group rolls back
   on its error alarm or a failure).

Then wait for every deployment; exit 1 when any failed, stopped or rolled back, so the
pipeline goes red. Standard library + boto3 only; run by ``buildspecs/deploy.yml``:

    python scripts/deploy_functions.py --packages DIR [--targets JSON]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TARGETS_VARIABLE = "HEALSTACK_DEPLOY_TARGETS"
MANIFEST = "manifest.json"
DONE = {"Succeeded", "Failed", "Stopped"}


class DeployError(Exception):
    """Bad input: one line, exit 2."""


@dataclass(frozen=True)
class Targets:
    application: str
    alias: str
    #: function name -> deployment group
    functions: Mapping[str, str]


def parse_targets(text: str) -> Targets:
    try:
        data = json.loads(text)
        return Targets(str(data["application"]), str(data["alias"]), dict(data["functions"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise DeployError(
            f"{TARGETS_VARIABLE} is not the targets JSON synthesis writes ({exc})"
        ) from None


def read_manifest(folder: Path) -> dict[str, tuple[Path, str]]:
    """handler -> (zip path, base64 sha256) from ``healstack package``'s manifest."""
    path = folder / MANIFEST
    if not path.is_file():
        raise DeployError(f"{path}: no manifest (run healstack package --out {folder})")
    packages = json.loads(path.read_text())["packages"]
    return {h: (folder / p["file"], p["sha256"]) for h, p in sorted(packages.items())}


def appspec(function: str, alias: str, current: str, target: str) -> str:
    """CodeDeploy's AppSpec for shifting one Lambda alias between two versions."""
    return json.dumps(
        {
            "version": 0.0,
            "Resources": [
                {
                    function: {
                        "Type": "AWS::Lambda::Function",
                        "Properties": {
                            "Name": function,
                            "Alias": alias,
                            "CurrentVersion": current,
                            "TargetVersion": target,
                        },
                    }
                }
            ],
        },
        sort_keys=True,
    )


def deploy(
    targets: Targets,
    packages: Mapping[str, tuple[Path, str]],
    lambda_client: Any,
    codedeploy_client: Any,
    *,
    poll_seconds: float = 15,
    sleep: Callable[[float], None] = time.sleep,
    say: Callable[[str], None] = print,
) -> int:
    """Start every needed rollout, then wait for all; 0 when all succeeded, else 1."""
    started: dict[str, str] = {}
    for function, group in sorted(targets.functions.items()):
        handler = lambda_client.get_function_configuration(FunctionName=function)["Handler"]
        if handler not in packages:
            raise DeployError(f"{function}: no package for its handler {handler}")
        path, sha = packages[handler]
        live = lambda_client.get_function_configuration(
            FunctionName=function, Qualifier=targets.alias
        )
        if live["CodeSha256"] == sha:
            say(f"{function}: {targets.alias} already serves this code (version {live['Version']})")
            continue
        version = lambda_client.update_function_code(
            FunctionName=function, ZipFile=path.read_bytes(), Publish=True
        )["Version"]
        _wait_active(lambda_client, function, version, poll_seconds, sleep)
        current = lambda_client.get_alias(FunctionName=function, Name=targets.alias)[
            "FunctionVersion"
        ]
        deployment = codedeploy_client.create_deployment(
            applicationName=targets.application,
            deploymentGroupName=group,
            description=f"healstack: {function} {current} -> {version}",
            revision={
                "revisionType": "AppSpecContent",
                "appSpecContent": {"content": appspec(function, targets.alias, current, version)},
            },
        )["deploymentId"]
        say(f"{function}: shifting {targets.alias} {current} -> {version} ({deployment})")
        started[function] = deployment
    failed = 0
    for function, deployment in started.items():
        info = _wait_deployment(codedeploy_client, deployment, poll_seconds, sleep)
        if info["status"] == "Succeeded":
            say(f"{function}: {deployment} succeeded")
        else:
            failed += 1
            error = info.get("errorInformation", {}).get("message", "")
            rolled = " (rolled back)" if info.get("rollbackInfo") else ""
            say(f"{function}: {deployment} {info['status'].lower()}{rolled}: {error}".rstrip(": "))
    return 1 if failed else 0


def _wait_active(
    client: Any, function: str, version: str, poll: float, sleep: Callable[[float], None]
) -> None:
    while True:
        config = client.get_function_configuration(FunctionName=function, Qualifier=version)
        state = config.get("State", "Active")
        if state == "Active":
            return
        if state == "Failed":
            raise RuntimeError(f"{function}:{version} failed: {config.get('StateReason', '')}")
        sleep(poll)


def _wait_deployment(
    client: Any, deployment: str, poll: float, sleep: Callable[[float], None]
) -> dict[str, Any]:
    while True:
        info: dict[str, Any] = client.get_deployment(deploymentId=deployment)["deploymentInfo"]
        if info["status"] in DONE:
            return info
        sleep(poll)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--packages", type=Path, required=True, help="healstack package --out DIR")
    parser.add_argument(
        "--targets",
        default=os.environ.get(TARGETS_VARIABLE),
        help=f"targets JSON (default: ${TARGETS_VARIABLE})",
    )
    args = parser.parse_args(argv)
    try:
        if not args.targets:
            raise DeployError(f"no targets: set {TARGETS_VARIABLE} or pass --targets")
        targets = parse_targets(args.targets)
        packages = read_manifest(args.packages)
        import boto3

        return deploy(targets, packages, boto3.client("lambda"), boto3.client("codedeploy"))
    except DeployError as exc:
        print(f"deploy_functions: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
