"""A platform-owned step: take the instance out of its load balancer's target group before
healstack stops it, so no request lands on an instance that is going away.

healstack calls ``handler`` with the payload every step gets::

    {"playbook", "execution_id", "state", "resource_id", "attempt", "dry_run",
     "params": {"target_group": "web"}}

and the function runs with exactly the permissions the playbook declares for it. It must
honour ``dry_run`` (say what it would do, change nothing) and finish within its timeout.
A raised exception fails the step: the workflow retries the error names healstack retries
(``TransientError``, throttling) and tells every other failure.
"""

from __future__ import annotations

from typing import Any

import boto3


class TransientError(Exception):
    """The workflow retries an error with this name (with backoff), as for its own steps."""


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    instance_id = str(event["resource_id"])
    elb = boto3.client("elbv2")
    groups = elb.describe_target_groups(Names=[str(event["params"]["target_group"])])
    target_group = groups["TargetGroups"][0]["TargetGroupArn"]
    health = elb.describe_target_health(TargetGroupArn=target_group)["TargetHealthDescriptions"]
    registered = [t for t in health if t["Target"]["Id"] == instance_id]
    if not registered:
        return {"changed": False, "message": f"{instance_id} is not in the target group"}
    if event.get("dry_run"):
        return {"changed": False, "message": f"would deregister {instance_id} (dry run)"}
    elb.deregister_targets(TargetGroupArn=target_group, Targets=[{"Id": instance_id}])
    return {"changed": True, "message": f"deregistered {instance_id} from its target group"}
