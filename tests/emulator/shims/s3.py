"""S3: bucket notification reads."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from moto.core.responses import ActionResult


@contextmanager
def s3_eventbridge_notification() -> Iterator[None]:
    """S3 ``GetBucketNotificationConfiguration`` never returns ``EventBridgeConfiguration``.

    moto: ``s3/responses.py`` ``S3Response.get_bucket_notification`` answers topic, queue and
    Lambda configurations only, although ``s3/models.py`` ``NotificationConfiguration`` keeps
    ``event_bridge`` from PutBucketNotificationConfiguration. The provider reads
    ``eventbridge = false`` and the next plan wants to turn it on again.

    Shim: add ``EventBridgeConfiguration`` to the answer when the bucket has it on.
    """
    from moto.s3.responses import S3Response

    original = S3Response.get_bucket_notification

    def get_bucket_notification(response: S3Response) -> Any:
        config = response.backend.get_bucket_notification_configuration(response.bucket_name)
        if config is None or config.event_bridge is None:
            return original(response)
        serialize = response.serialized

        def serialized(result: Any) -> Any:
            if isinstance(result, ActionResult) and isinstance(result.result, dict):
                result.result["EventBridgeConfiguration"] = {}
            return serialize(result)

        response.serialized = serialized  # one instance per request
        return original(response)

    with mock.patch.object(S3Response, "get_bucket_notification", get_bucket_notification):
        yield


@contextmanager
def s3_bucket_policy_conditions() -> Iterator[None]:
    """S3 judges a bucket policy's conditions without the request, so every conditional
    ``Deny`` refuses every object request.

    moto: ``s3/responses.py`` ``S3Response._key_response`` asks ``s3/models.py``
    ``FakeBucket.get_permission(action, resource)``, which evaluates the policy through
    ``iam/access_control.py`` ``IAMPolicyStatement.is_action_permitted`` with no principal and
    no condition values; ``_check_conditions`` then fails every ``Condition`` (TLS, the
    uploader's ARN, the encryption headers) and answers DENIED, even for a Deny statement
    whose condition does not hold. The artifact bucket's policy is all such statements, so
    Terraform's upload of each function's first zip gets a 403.

    Shim: statements with a ``Condition`` are left out of moto's check (AWS decides them on
    request context the emulator does not model: ``tests/pipeline/test_source_trust.py``
    evaluates them on the synthesized policy); unconditional statements keep moto's answer.
    """
    import json

    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(bucket: FakeBucket, action: str, resource: str) -> Any:
        if bucket.policy is None:
            return PermissionResult.NEUTRAL
        document = json.loads(bucket.policy.decode())
        statements = document.get("Statement", [])
        statements = [statements] if isinstance(statements, dict) else statements
        kept = [s for s in statements if "Condition" not in s]
        if not kept:
            return PermissionResult.NEUTRAL
        policy = IAMPolicy(json.dumps({**document, "Statement": kept}))
        return policy.is_action_permitted(action, resource)

    with mock.patch.object(FakeBucket, "get_permission", get_permission):
        yield
