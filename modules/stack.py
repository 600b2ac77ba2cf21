"""``RecoveryStack``: one Terraform stack (own state) per playbook, with its outputs."""

from __future__ import annotations

from collections.abc import Callable

from constructs import Construct

from healstack.cdk import LocalBackend, TerraformOutput, TerraformStack
from healstack.modules.recovery_workflow import RecoveryWorkflow
from healstack.playbook import Playbook
from healstack.providers.interfaces import CloudProvider, DeploymentSettings

#: configures a stack's state backend (the stack's name is ``stack.node.id``)
Backend = Callable[[TerraformStack], None]


class RecoveryStack(TerraformStack):
    """``backend``: where the stack keeps its state; default a local state file. Each
    stage is its own stack (``stack_name``), so each stage has its own state."""

    def __init__(
        self,
        scope: Construct,
        playbook: Playbook,
        provider: CloudProvider,
        settings: DeploymentSettings,
        backend: Backend | None = None,
    ) -> None:
        super().__init__(scope, stack_name(playbook, settings))
        if backend is None:
            local_backend(self)
        else:
            backend(self)
        provider.configure_stack(self, settings)
        self.recovery = RecoveryWorkflow(
            self,
            "recovery",
            playbook=playbook,
            provider=provider,
            settings=settings,
            tag_resources=False,  # configure_stack tags the whole stack
        )
        for name, (value, description) in self.recovery.outputs().items():
            TerraformOutput(self, name, value=value, description=description)


def local_backend(stack: TerraformStack) -> None:
    # Relative, so no path of this machine lands in the output; three levels up from
    # <out>/stacks/<name>/ is the folder holding <out>, where re-synthesis never deletes it.
    LocalBackend(stack, path=f"../../../terraform.{stack.node.id}.tfstate")


def stack_name(playbook: Playbook, settings: DeploymentSettings) -> str:
    return f"{playbook.name}-{settings.stage}" if settings.stage else playbook.name
