"""CodePipeline: timestamps in the JSON protocol's format."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from typing import Any
from unittest import mock


@contextmanager
def codepipeline_epoch_timestamps() -> Iterator[None]:
    """CodePipeline ``GetPipeline`` returns ``metadata.created``/``updated`` as ISO strings.

    moto: ``codepipeline/models.py`` ``CodePipeline.metadata`` formats both with
    ``iso_8601_datetime_with_milliseconds``; CodePipeline is a JSON-protocol service, whose
    timestamps are epoch seconds, so the provider's Go SDK fails to decode ``GetPipeline``
    ("expected Timestamp to be a JSON Number, got string instead") on create and refresh.
    ``ListPipelines`` uses the same property.

    Shim: the same metadata with epoch-second numbers.
    """
    from moto.codepipeline.models import CodePipeline

    def metadata(pipeline: CodePipeline) -> dict[str, Any]:
        return {
            "pipelineArn": pipeline._arn,
            "created": pipeline._created.replace(tzinfo=UTC).timestamp(),
            "updated": pipeline._updated.replace(tzinfo=UTC).timestamp(),
        }

    with mock.patch.object(CodePipeline, "metadata", property(metadata)):
        yield
