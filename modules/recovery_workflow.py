"""``RecoveryWorkflow``: one playbook's whole recovery, composed from neutral parts.

Cloud-free: it compiles the playbook into the neutral workflow graph and asks the
provider for a notifier, one function per distinct step, the workflow and its trigger.
A platform repo adds it to its own cdktf stack (issue #7); healstack's own stacks do too.
"""

from __future__ import annotations

from dataclasses import replace

from constructs import Construct

from healstack.modules.compile import STORE, CompiledRecovery, compile_playbook
from healstack.playbook import Playbook
from healstack.providers.interfaces import (
    CloudProvider,
    DeploymentSettings,
    FunctionHandle,
    NotifierSpec,
    PipelineHandle,
    PipelineSpec,
    RecoveryParts,
    StoreSpec,
    TriggerSpec,
)


class RecoveryWorkflow(Construct):
    """Trigger -> bounded workflow of short functions -> notification, for one playbook."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        playbook: Playbook,
        provider: CloudProvider,
        settings: DeploymentSettings | None = None,
    ) -> None:
        super().__init__(scope, id_)
        self.settings = settings or DeploymentSettings()
        self.playbook = playbook
        self.compiled: CompiledRecovery = compile_playbook(playbook)
        base = self.settings.base_name(playbook.name)
        notifier = provider.notifier(
            self, NotifierSpec("notifications", tuple(playbook.notify.emails)), base, self.settings
        )
        self.store = provider.store(self, StoreSpec(STORE), base, self.settings)
        functions: dict[str, FunctionHandle] = {
            spec.key: provider.function(
                self, spec, base, notifier, self.settings, playbook.target.require_tag
            )
            for spec in self.compiled.functions
        }
        workflow = provider.workflow(self, self.compiled.workflow, base, functions, self.settings)
        trigger = provider.trigger(
            self,
            TriggerSpec(
                "trigger",
                f"healstack: start {playbook.name} on matching events",
                playbook.trigger.event_pattern(),
            ),
            base,
            workflow,
            self.settings,
        )
        parts = RecoveryParts(playbook.name, notifier, functions, workflow, trigger)
        # monitoring first: a rollout backs out on the same step-error alarms people get
        self.monitoring = provider.monitoring(self, parts, base, self.settings)
        pipeline: PipelineHandle | None = None
        if self.settings.pipeline:
            pipeline = provider.pipeline(
                self,
                PipelineSpec(
                    "functions",
                    self.settings.pipeline_source,
                    self.settings.pipeline_rollout,
                    rollback_alarms=self.monitoring.function_alarms,
                ),
                base,
                functions,
                self.settings,
            )
        self.parts = replace(parts, pipeline=pipeline)
