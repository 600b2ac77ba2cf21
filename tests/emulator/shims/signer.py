"""Signer: signing jobs (Terraform signs each function's first code, ``signing.py``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock


@contextmanager
def signer_signing_jobs() -> Iterator[dict[str, dict[str, Any]]]:
    """Signer has signing profiles but no ``StartSigningJob`` / ``DescribeSigningJob``.

    moto: ``signer/urls.py`` routes only ``/signing-profiles``, ``/signing-platforms`` and
    ``/tags``, and ``signer/responses.py`` ``SignerResponse`` has no job actions: the
    provider's ``aws_signer_signing_job`` gets a 404 on ``POST /signing-jobs``.

    Shim: route ``/signing-jobs`` and ``/signing-jobs/<id>``; ``start_signing_job`` copies
    the source object version (moto's S3) to ``<destination prefix><job id>.zip`` in the
    destination bucket, unchanged (moto's Lambda checks no signature), and records a
    ``Succeeded`` job that ``describe_signing_job`` answers as AWS does (epoch timestamps,
    the source as given, the signed object, the profile's version). Yields the jobs by id.
    """
    from moto.core.utils import unix_time
    from moto.moto_api._internal import mock_random
    from moto.s3.models import s3_backends
    from moto.signer import urls
    from moto.signer.responses import SignerResponse
    from moto.utilities.utils import get_partition

    jobs: dict[str, dict[str, Any]] = {}  # a job is done the moment it starts

    def start_signing_job(response: SignerResponse) -> Any:
        params = json.loads(response.body)
        source = params["source"]["s3"]
        destination = params["destination"]["s3"]
        profile = response.signer_backend.get_signing_profile(params["profileName"])
        s3 = s3_backends[response.current_account][get_partition(response.region)]
        original = s3.get_object(source["bucketName"], source["key"], source.get("version"))
        if original is None:
            body = {"message": f"no object {source['key']}"}
            return (
                404,
                {"status": 404, "x-amzn-errortype": "ResourceNotFoundException"},
                json.dumps(body),
            )
        job_id = str(mock_random.uuid4())
        key = f"{destination.get('prefix', '')}{job_id}.zip"
        s3.put_object(destination["bucketName"], key, original.value)
        now = unix_time()
        jobs[job_id] = {
            "jobId": job_id,
            "source": {"s3": source},
            "signedObject": {"s3": {"bucketName": destination["bucketName"], "key": key}},
            "profileName": profile.name,
            "profileVersion": profile.profile_version,
            "platformId": profile.platform_id,
            "platformDisplayName": "AWS Lambda",
            "status": "Succeeded",
            "createdAt": now,
            "completedAt": now,
            "signatureExpiresAt": now + 135 * 30 * 24 * 3600,
            "requestedBy": f"arn:aws:iam::{response.current_account}:user/emulator",
            "jobOwner": response.current_account,
            "jobInvoker": response.current_account,
        }
        return 200, {}, json.dumps({"jobId": job_id, "jobOwner": response.current_account})

    def describe_signing_job(response: SignerResponse) -> Any:
        job = jobs.get(response.path.rstrip("/").split("/")[-1])
        if job is None:
            body = {"__type": "ResourceNotFoundException", "message": "no such signing job"}
            return (
                404,
                {"status": 404, "x-amzn-errortype": "ResourceNotFoundException"},
                json.dumps(body),
            )
        return 200, {}, json.dumps(job)

    paths = {
        "{0}/signing-jobs$": SignerResponse.dispatch,
        "{0}/signing-jobs/(?P<job_id>[^/]+)$": SignerResponse.dispatch,
    }
    with (
        mock.patch.dict(urls.url_paths, paths),
        mock.patch.object(SignerResponse, "start_signing_job", start_signing_job, create=True),
        mock.patch.object(
            SignerResponse, "describe_signing_job", describe_signing_job, create=True
        ),
    ):
        yield jobs
