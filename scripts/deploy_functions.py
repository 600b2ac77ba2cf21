#!/usr/bin/env python3
"""Roll the packaged handlers out to a recovery's functions, gradually (the Deploy stage).

For each function named in ``HEALSTACK_DEPLOY_TARGETS`` (JSON, set on the deploy build by
synthesis: ``{"application": ..., "alias": "live", "functions": {name: deployment group}}``):

1. read the function's handler and take that handler's **signed** zip from the Package
   stage's ``signed.json`` (an S3 object Signer wrote; the package's sha256 beside it, from
   ``manifest.json``); a handler without a signed object is an error: nothing unsigned ships;
2. skip the function when its alias already serves that package (the version's description
   records the package's sha256);
3. point the function's code at the signed object (Lambda checks the signature against the
   function's code signing config and refuses anything else), publish a version that records
   the package's sha256, wait until the version is active;
4. start a CodeDeploy deployment that shifts the alias from its current version to the new
   one, as the deployment group says (canary / linear / all at once; the group rolls back
   on its error alarm or a failure).

Then wait for every deployment; exit 1 when any failed, stopped or rolled back, so the
pipeline goes red. Standard library + boto3 only. Synthesis inlines this file into the Deploy
build's buildspec (``providers/aws/pipeline.py``): the uploaded source never supplies it.

    python deploy_functions.py --packages DIR [--targets JSON]
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
#: written by the Package stage's signing step: handler -> the signed object (sign_packages.py)
SIGNED = "signed.json"
#: a published version's description: which package it serves
DESCRIPTION = "healstack package sha256={sha}"
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


@dataclass(frozen=True)
class Signed:
    """A handler's signed zip in S3 and the sha256 (base64) of the package it signs."""

    bucket: str
    key: str
    sha256: str


def read_signed(folder: Path) -> dict[str, Signed]:
    """handler -> its signed object, from the Package stage's ``signed.json``; only handlers
    of ``manifest.json`` whose signed object names the same package."""
    path, manifest_path = folder / SIGNED, folder / MANIFEST
    if not manifest_path.is_file():
        raise DeployError(f"{manifest_path}: no manifest (the Package stage writes it)")
    if not path.is_file():
        raise DeployError(f"{path}: no signed packages (the Package stage signs them)")
    packages = json.loads(manifest_path.read_text())["packages"]
    signed = json.loads(path.read_text())["signed"]
    out = {}
    for handler, package in sorted(packages.items()):
        entry = signed.get(handler)
        if entry is None or entry.get("sha256") != package["sha256"]:
            raise DeployError(f"{handler}: no signed object for its package in {SIGNED}")
        out[handler] = Signed(str(entry["bucket"]), str(entry["key"]), str(entry["sha256"]))
    return out


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
    packages: Mapping[str, Signed],
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
        signed = packages[handler]
        description = DESCRIPTION.format(sha=signed.sha256)
        live = lambda_client.get_function_configuration(
            FunctionName=function, Qualifier=targets.alias
        )
        if live.get("Description") == description:
            say(f"{function}: {targets.alias} already serves this code (version {live['Version']})")
            continue
        code_sha = lambda_client.update_function_code(
            FunctionName=function, S3Bucket=signed.bucket, S3Key=signed.key, Publish=False
        )["CodeSha256"]
        _wait_updated(lambda_client, function, poll_seconds, sleep)
        version = lambda_client.publish_version(
            FunctionName=function, CodeSha256=code_sha, Description=description
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


def _wait_updated(client: Any, function: str, poll: float, sleep: Callable[[float], None]) -> None:
    while True:
        config = client.get_function_configuration(FunctionName=function)
        status = config.get("LastUpdateStatus", "Successful")
        if status == "Successful":
            return
        if status == "Failed":
            reason = config.get("LastUpdateStatusReason", "")
            raise RuntimeError(f"{function}: code update failed: {reason}")
        sleep(poll)


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
    parser.add_argument(
        "--packages", type=Path, required=True, help="the Package stage's output folder"
    )
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
        packages = read_signed(args.packages)
        import boto3

        return deploy(targets, packages, boto3.client("lambda"), boto3.client("codedeploy"))
    except DeployError as exc:
        print(f"deploy_functions: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
