"""An instance of an Auto Scaling group is named by its EC2 instance id: the same id rules as
any EC2 instance (lower-case hex; an ARN an event may use is reduced to the id), read from the
same event shapes (a status-check alarm's ``InstanceId`` dimension, an EC2 state change, an
AWS Health event). The group is not part of the id: the handler asks Auto Scaling which group
holds the instance, so one instance is one lock whatever group it is in.

The ``aws.autoscaling`` events are not read: "EC2 Instance Launch Unsuccessful" names no
instance to replace (its ``EC2InstanceId`` is empty when the launch failed), and "EC2 Instance
Terminate Unsuccessful" names one the group is already terminating, which a replace cannot
help."""

from __future__ import annotations

from . import RuntimeKind
from .ec2_instance import INSTANCE_ID, INSTANCE_NOT_FOUND, INSTANCE_SHAPES, normalize

KIND = RuntimeKind(
    name="asg_instance",
    expected="an EC2 instance id (i- followed by 8 or 17 hex digits) of an Auto Scaling group",
    id_pattern=INSTANCE_ID,
    shapes=INSTANCE_SHAPES,
    normalize=normalize,
    not_found_codes=INSTANCE_NOT_FOUND,
)
