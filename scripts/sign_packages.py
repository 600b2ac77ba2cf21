#!/usr/bin/env python3
"""Sign what the Package stage packaged (the pipeline's Package stage, after ``healstack
package``).

For each handler in ``manifest.json``: upload its zip to the artifact bucket
(``<pipeline prefix>/unsigned/``, encrypted with the pipeline key), have AWS Signer sign
that object version with the recovery's profile into ``<pipeline prefix>/signed/``, wait
for the job, and record the signed object in ``signed.json`` beside the manifest. The Deploy
stage ships only those signed objects, and Lambda's code signing config (Enforce) refuses
anything this profile did not sign. Standard library + boto3 only. Synthesis inlines this
file into the Package build's buildspec (``providers/aws/pipeline.py``); the settings come
from the build's environment, which Terraform sets:

    HEALSTACK_ARTIFACT_BUCKET   the artifact bucket
    HEALSTACK_SIGNING_PREFIX    where unsigned/ and signed/ go (the pipeline's own prefix)
    HEALSTACK_SIGNING_PROFILE   the Signer profile's name
    HEALSTACK_PIPELINE_KEY      the pipeline key's ARN (the uploads name it)

    python sign_packages.py --packages DIR
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
SIGNED = "signed.json"
SETTINGS = {
    "bucket": "HEALSTACK_ARTIFACT_BUCKET",
    "prefix": "HEALSTACK_SIGNING_PREFIX",
    "profile": "HEALSTACK_SIGNING_PROFILE",
    "key": "HEALSTACK_PIPELINE_KEY",
}
DONE = {"Succeeded", "Failed"}


class SignError(Exception):
    """Bad input or a failed signing job: one line, exit 2 or 1."""


@dataclass(frozen=True)
class Settings:
    bucket: str
    prefix: str
    profile: str
    key: str


def settings_from(environ: Mapping[str, str]) -> Settings:
    missing = [name for name in SETTINGS.values() if not environ.get(name)]
    if missing:
        raise SignError(f"not set: {', '.join(missing)} (the Package build's environment)")
    values = {field: environ[name] for field, name in SETTINGS.items()}
    values["prefix"] = values["prefix"].rstrip("/") + "/"
    return Settings(**values)


def sign_all(
    folder: Path,
    settings: Settings,
    s3: Any,
    signer: Any,
    *,
    poll_seconds: float = 5,
    sleep: Callable[[float], None] = time.sleep,
    say: Callable[[str], None] = print,
) -> dict[str, dict[str, str]]:
    """Sign every packaged zip; write and return ``signed.json``'s handler map."""
    path = folder / MANIFEST
    if not path.is_file():
        raise SignError(f"{path}: no manifest (healstack package writes it)")
    packages = json.loads(path.read_text())["packages"]
    signed: dict[str, dict[str, str]] = {}
    for handler, package in sorted(packages.items()):
        zip_path = folder / package["file"]
        key = f"{settings.prefix}unsigned/{zip_path.name}"
        upload = s3.put_object(
            Bucket=settings.bucket,
            Key=key,
            Body=zip_path.read_bytes(),
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=settings.key,
        )
        job = signer.start_signing_job(
            source={
                "s3": {"bucketName": settings.bucket, "key": key, "version": upload["VersionId"]}
            },
            destination={
                "s3": {"bucketName": settings.bucket, "prefix": f"{settings.prefix}signed/"}
            },
            profileName=settings.profile,
            clientRequestToken=str(uuid.uuid4()),
        )["jobId"]
        result = _wait_job(signer, job, poll_seconds, sleep)
        if result["status"] != "Succeeded":
            raise SignError(
                f"{handler}: signing job {job} {result['status']}: {result.get('statusReason', '')}"
            )
        target = result["signedObject"]["s3"]
        signed[handler] = {
            "bucket": target["bucketName"],
            "key": target["key"],
            "sha256": package["sha256"],
            "job": job,
        }
        say(f"{handler}: signed s3://{target['bucketName']}/{target['key']} (job {job})")
    out = {"signed": signed}
    (folder / SIGNED).write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
    return signed


def _wait_job(signer: Any, job: str, poll: float, sleep: Callable[[float], None]) -> dict[str, Any]:
    while True:
        result: dict[str, Any] = signer.describe_signing_job(jobId=job)
        if result["status"] in DONE:
            return result
        sleep(poll)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--packages", type=Path, required=True, help="healstack package --out DIR")
    args = parser.parse_args(argv)
    try:
        settings = settings_from(os.environ)
        import boto3

        sign_all(args.packages, settings, boto3.client("s3"), boto3.client("signer"))
        return 0
    except SignError as exc:
        print(f"sign_packages: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
