"""The shipped Auto Scaling playbook's IAM: the one mutating call is limited to groups that
carry the playbook's tag, through the condition key the handler's own scope check mirrors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import load_stack
from tests.security.test_iam import as_list, policies

TERMINATE = "autoscaling:TerminateInstanceInAutoScalingGroup"


def by_function(synthesized: Path) -> dict[str, list[dict[str, Any]]]:
    stack = load_stack(synthesized, "asg-instance-recovery")
    found: dict[str, list[dict[str, Any]]] = {}
    for name, doc in policies(stack):
        if "_fn-" in name:
            key = name.split("_fn-")[1].rsplit("_policy", 1)[0]
            found.setdefault(key, []).extend(doc["Statement"])
    return found


def test_replace_terminates_only_in_groups_tagged_for_the_playbook(synthesized: Path) -> None:
    statements = by_function(synthesized)["replace"]
    (terminate,) = [s for s in statements if TERMINATE in as_list(s["Action"])]
    assert as_list(terminate["Action"]) == [TERMINATE]
    (resource,) = as_list(terminate["Resource"])
    assert resource.startswith("arn:${data.aws_partition.")
    assert resource.endswith(":autoScalingGroup:*:autoScalingGroupName/*")
    assert ":autoscaling:${data.aws_region." in resource
    assert terminate["Condition"] == {
        "StringEquals": {"autoscaling:ResourceTag/healstack": "enabled"}
    }


def test_the_check_and_the_replace_read_nothing_they_do_not_use(synthesized: Path) -> None:
    functions = by_function(synthesized)

    def actions(key: str) -> set[str]:
        return {
            a
            for s in functions[key]
            for a in as_list(s["Action"])
            if a.startswith(("autoscaling:", "ec2:"))
        }

    reads = {
        "autoscaling:DescribeAutoScalingInstances",
        "autoscaling:DescribeAutoScalingGroups",
        "ec2:DescribeInstances",
    }
    assert actions("check-status") == reads | {"ec2:DescribeInstanceStatus"}
    assert actions("replace") == reads | {TERMINATE}
