"""EC2 instance ids: lower-case hex by definition (an upper-case one is refused); an ARN an
event may use is reduced to the id."""

from __future__ import annotations

import re

from .. import shapes
from . import RuntimeKind

INSTANCE_ID = re.compile(r"^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
INSTANCE_ARN = re.compile(r"^arn:aws[a-z-]*:ec2:[a-z0-9-]+:\d{12}:instance/(?P<id>i-[0-9a-f]+)$")


def normalize(raw: str) -> str:
    match = INSTANCE_ARN.match(raw)
    return match.group("id") if match else raw


#: the events that name an instance, and how each carries its id (kinds whose resource is
#: an instance share them)
INSTANCE_SHAPES = {
    shapes.ALARM: shapes.alarm_dimension("InstanceId"),
    shapes.EC2_STATE_CHANGE: shapes.detail_field("instance-id"),
    shapes.HEALTH: shapes.health,
}
INSTANCE_NOT_FOUND = frozenset({"InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"})

KIND = RuntimeKind(
    name="ec2_instance",
    expected="an EC2 instance id (i- followed by 8 or 17 hex digits)",
    id_pattern=INSTANCE_ID,
    shapes=INSTANCE_SHAPES,
    normalize=normalize,
    not_found_codes=INSTANCE_NOT_FOUND,
)
