"""``RecoveryStack``: one Terraform stack (own state) per playbook, with its outputs."""

from __future__ import annotations

from cdktf import LocalBackend, TerraformOutput, TerraformStack
from constructs import Construct

from healstack.modules.recovery_workflow import RecoveryWorkflow
from healstack.playbook import Playbook
from healstack.providers.interfaces import CloudProvider, DeploymentSettings


class RecoveryStack(TerraformStack):
    def __init__(
        self,
        scope: Construct,
        playbook: Playbook,
        provider: CloudProvider,
        settings: DeploymentSettings,
    ) -> None:
        super().__init__(scope, stack_name(playbook, settings))
        # Relative, so no path of this machine lands in the output; three levels up from
        # <out>/stacks/<name>/ is the folder holding <out>, where re-synthesis never deletes it.
        LocalBackend(self, path=f"../../../terraform.{self.node.id}.tfstate")
        provider.configure_stack(self, settings)
        self.recovery = RecoveryWorkflow(
            self, "recovery", playbook=playbook, provider=provider, settings=settings
        )
        parts = self.recovery.parts
        outputs = {
            "state_machine_arn": (parts.workflow.id, "the recovery workflow"),
            "rule_name": (parts.trigger.name, "the rule that starts it"),
            "topic_arn": (parts.notifier.id, "where outcomes are published"),
            "dlq_url": (parts.trigger.dead_letter_id, "events the workflow could not take"),
        }
        if parts.pipeline is not None:
            outputs["pipeline_name"] = (parts.pipeline.name, "ships the functions")
            if parts.pipeline.source_location is not None:
                outputs["pipeline_source"] = (
                    parts.pipeline.source_location,
                    "upload a zip of the repository here to start the pipeline",
                )
        for name, (value, description) in outputs.items():
            TerraformOutput(self, name, value=value, description=description)


def stack_name(playbook: Playbook, settings: DeploymentSettings) -> str:
    return f"{playbook.name}-{settings.stage}" if settings.stage else playbook.name
