"""An EC2 instance, by instance id: reboot it, or stop it and start it again."""

from healstack.catalog import Action, Check, Param, TargetKind, Undo, register

KIND = register(
    TargetKind(
        name="ec2_instance",
        description="an EC2 instance, by instance id",
        check_ops=(
            Check(
                "status",
                "the instance's state and its system and instance status checks",
                states=(
                    "pending",
                    "running",
                    "stopping",
                    "stopped",
                    "shutting-down",
                    "terminated",
                ),
                skips=("not_in_scope", "stopped_on_purpose", "changing"),
            ),
        ),
        action_ops=(
            Action("reboot", "reboot a running instance (no-op otherwise)"),
            Action(
                "stop",
                "stop a running instance; the workflow polls until it is stopped",
                params={
                    "force": Param("boolean", "force the stop of an instance stuck in stopping")
                },
                evidence="stopped_here",
            ),
            Action(
                "start",
                "start the instance again, only after this recovery's own stop",
                params={
                    "own_stop": Param(
                        "boolean",
                        "did this attempt's own stop act (set by the workflow)",
                        internal=True,
                    )
                },
            ),
        ),
        undoes=(Undo("start", "stop", evidence="stopped_here", param="own_stop"),),
        event_sources=("aws.cloudwatch", "aws.ec2", "aws.health"),
    )
)
