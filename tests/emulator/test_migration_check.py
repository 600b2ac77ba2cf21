"""The migration check's verdict on a plan (``harness.migration_problems``): an older
healstack's configuration may differ from this one's state only in function code and in
resources added since; a replacement, an argument drift or a vanished resource fails."""

from __future__ import annotations

from typing import Any

from tests.emulator.harness import migration_problems


def change(address: str, actions: list[str], before: Any = None, after: Any = None) -> Any:
    kind = address.split(".")[0]
    return {
        "address": address,
        "type": kind,
        "change": {"actions": actions, "before": before, "after": after, "after_unknown": {}},
    }


OLD = {"aws_lambda_function.f", "aws_iam_role.r", "aws_sns_topic.t"}


def test_code_updates_and_resources_added_since_pass() -> None:
    plan = {
        "resource_changes": [
            change(
                "aws_lambda_function.f",
                ["update"],
                {"source_code_hash": "a", "handler": "h"},
                {"source_code_hash": "b", "handler": "h"},
            ),
            change("aws_cloudwatch_log_metric_filter.new", ["delete"]),
            change("aws_iam_role.r", ["no-op"]),
            change("aws_signer_signing_job.sign", ["delete", "create"]),
            change("aws_s3_object.initial", ["update"], {"etag": "1"}, {"etag": "2"}),
        ]
    }
    assert migration_problems(
        plan, OLD | {"aws_signer_signing_job.sign", "aws_s3_object.initial"}
    ) == ([], 3, 1)


def test_drift_replacement_and_vanished_resources_fail() -> None:
    plan = {
        "resource_changes": [
            change(
                "aws_lambda_function.f",
                ["update"],
                {"source_code_hash": "a", "handler": "h"},
                {"source_code_hash": "b", "handler": "other"},
            ),
            change("aws_iam_role.r", ["delete", "create"]),
            change("aws_sns_topic.t", ["delete"]),
            change("aws_sqs_queue.gone_since", ["create"]),
            change("aws_s3_object.o", ["update"], {"bucket": "a"}, {"bucket": "b"}),
        ]
    }
    problems, _, _ = migration_problems(plan, OLD)
    assert problems == [
        "aws_lambda_function.f: update of ['handler']",
        "aws_iam_role.r: delete/create",
        "aws_sns_topic.t: delete",
        "aws_sqs_queue.gone_since: create",
        "aws_s3_object.o: update of ['bucket']",
    ]


def test_a_reviewed_change_since_passes_and_nothing_else_of_that_resource() -> None:
    rule = "aws_cloudwatch_event_rule.rule"
    moved = change(
        rule, ["update"], {"event_pattern": "a", "name": "n"}, {"event_pattern": "b", "name": "n"}
    )
    renamed = change(rule, ["update"], {"name": "n"}, {"name": "m"})
    assert migration_problems({"resource_changes": [moved]}, {rule}) == ([], 1, 0)
    assert migration_problems({"resource_changes": [renamed]}, {rule})[0] == [
        f"{rule}: update of ['name']"
    ]
