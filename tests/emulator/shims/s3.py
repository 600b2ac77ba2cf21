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
