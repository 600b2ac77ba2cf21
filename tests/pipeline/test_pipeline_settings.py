"""The neutral pipeline settings and how AWS realises a rollout."""

from __future__ import annotations

import pytest

from healstack.errors import UsageError
from healstack.providers.aws.pipeline import (
    bucket_prefix,
    deployment_config_name,
    shift_minutes,
)
from healstack.providers.interfaces import DeploymentSettings, PipelineSource, Rollout


def test_defaults_ship_through_an_uploaded_archive_with_a_canary() -> None:
    settings = DeploymentSettings()
    assert settings.pipeline is True
    assert settings.pipeline_source == PipelineSource(kind="upload")
    assert settings.pipeline_rollout == Rollout(style="canary", percent=10, interval_minutes=5)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"kind": "repository"}, r"needs repository \(owner/name\) and connection"),
        ({"kind": "repository", "repository": "acme/x"}, "needs repository"),
        (
            {"kind": "repository", "repository": "acme", "connection": "arn:x"},
            'repository "acme" is not owner/name',
        ),
    ],
)
def test_a_repository_source_needs_owner_name_and_a_connection(
    source: dict[str, str], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        PipelineSource(**source)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rollout", "message"),
    [
        ({"percent": 0}, "percent 0 is not 1..99"),
        ({"percent": 100}, "percent 100 is not 1..99"),
        ({"interval_minutes": 0}, "interval_minutes 0 is not >= 1"),
    ],
)
def test_a_rollout_shifts_part_of_the_traffic_at_a_time(
    rollout: dict[str, int], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        Rollout(**rollout)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rollout", "name", "minutes"),
    [
        (Rollout(), "CodeDeployDefault.LambdaCanary10Percent5Minutes", 5),
        (Rollout("canary", 10, 30), "CodeDeployDefault.LambdaCanary10Percent30Minutes", 30),
        (Rollout("linear", 10, 1), "CodeDeployDefault.LambdaLinear10PercentEvery1Minute", 10),
        (Rollout("linear", 10, 10), "CodeDeployDefault.LambdaLinear10PercentEvery10Minutes", 100),
        (Rollout("all_at_once"), "CodeDeployDefault.LambdaAllAtOnce", 0),
        (Rollout("canary", 25, 7), "healstack-x-canary-25pct-7min", 7),
        (Rollout("linear", 30, 2), "healstack-x-linear-30pct-2min", 8),
    ],
)
def test_rollouts_map_to_predefined_codedeploy_configs_or_their_own(
    rollout: Rollout, name: str, minutes: int
) -> None:
    assert deployment_config_name("healstack-x", rollout) == name
    assert shift_minutes(rollout) == minutes


def test_bucket_prefix_fits_s3s_37_characters() -> None:
    assert bucket_prefix("healstack-ec2") == "healstack-ec2-"
    long = bucket_prefix("healstack-" + "x" * 60)
    assert len(long) == 37 and long.endswith("-")
