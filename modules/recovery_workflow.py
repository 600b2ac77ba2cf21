"""``RecoveryWorkflow``: one playbook's whole recovery, composed from neutral parts.

Cloud-free: it compiles the playbook into the neutral workflow graph and asks the
provider for a notifier, one function per distinct step, the workflow and its trigger.
A platform repo adds it to its own cdktf stack (docs/reuse.md); healstack's own stacks do
too. Its construct ids are part of the public API: they make the Terraform addresses of
everything it creates, and a renamed id destroys and re-creates that resource in a
user's plan (docs/development.md, Versioning).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, cast

from constructs import Construct

from healstack.catalog import OUTCOMES
from healstack.errors import UsageError
from healstack.modules.compile import DECIDE_FUNCTION, STORE, CompiledRecovery, compile_playbook
from healstack.playbook import Playbook
from healstack.providers.interfaces import (
    MANAGED_BY,
    CloudProvider,
    DeploymentSettings,
    EventBusSpec,
    FunctionHandle,
    Grant,
    MetricRef,
    MonitoringHandle,
    NotifierSpec,
    PipelineHandle,
    PipelineSpec,
    RecoveryParts,
    StoreHandle,
    StoreSpec,
    TriggerSpec,
)


class RecoveryWorkflow(Construct):
    """Trigger -> bounded workflow of short functions -> notification, for one playbook.

    ``tag_resources``: put ``MANAGED_BY`` and ``settings.tags`` on every resource it
    creates. On by default, for a platform's stack, whose provider configuration (and its
    stack-wide tags) is the platform's; ``RecoveryStack`` turns it off because it sets the
    same tags stack-wide.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        playbook: Playbook,
        provider: CloudProvider,
        settings: DeploymentSettings | None = None,
        tag_resources: bool = True,
    ) -> None:
        super().__init__(scope, id_)
        self.settings = settings or DeploymentSettings()
        self.playbook = playbook
        self._provider = provider
        self._grants = 0
        if self.settings.hub is not None and playbook.platform_steps:
            # a platform step runs the platform's code with its own role, in the hub account;
            # a hub's recoveries act in member accounts, through the member role
            raise UsageError(
                f"{playbook.name}: platform_steps act in the hub's own account, not in a "
                "member's: deploy this playbook without [hub] (in each account), or drop them"
            )
        self.compiled: CompiledRecovery = compile_playbook(
            playbook, hub=self.settings.hub is not None
        )
        base = self.settings.base_name(playbook.name)
        #: the prefix of every physical name: ``<prefix>-<playbook>[-<stage>]``
        self.base_name = base
        notifier = provider.notifier(
            self,
            NotifierSpec(
                "notifications",
                tuple(playbook.notify.emails),
                existing_id=self.settings.existing_notifier_id,
            ),
            base,
            self.settings,
        )
        self._store: StoreHandle = provider.store(self, StoreSpec(STORE), base, self.settings)
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
                bus=(
                    EventBusSpec(bus.name, tuple(bus.publishers))
                    if (bus := playbook.trigger.bus) is not None
                    else None
                ),
                max_event_age_seconds=playbook.trigger.max_event_age,
            ),
            base,
            workflow,
            self.settings,
        )
        parts = RecoveryParts(playbook.name, notifier, functions, workflow, trigger)
        # monitoring first: a rollout backs out on the same step-error alarms people get
        self._monitoring: MonitoringHandle = provider.monitoring(self, parts, base, self.settings)
        pipeline: PipelineHandle | None = None
        if self.settings.pipeline:
            pipeline = provider.pipeline(
                self,
                PipelineSpec(
                    "functions",
                    self.settings.pipeline_source,
                    self.settings.pipeline_rollout,
                    rollback_alarms=self._monitoring.function_alarms,
                ),
                base,
                functions,
                self.settings,
            )
        self._parts: RecoveryParts = replace(parts, pipeline=pipeline)
        if tag_resources:
            provider.tag_resources(self, {**MANAGED_BY, **self.settings.tags})

    # -- what a platform wires downstream (references, resolved by Terraform) -------------
    # (read through the provider's ``exported``: tokens a platform may use in any stack)

    def _public(self, value: Any) -> Any:
        return self._provider.exported(self, value)

    @property
    def parts(self) -> RecoveryParts:
        """Every handle (ids, names, the provider's constructs in ``resource``/``role``)."""
        return cast(RecoveryParts, self._public(self._parts))

    @property
    def store(self) -> StoreHandle:
        return cast(StoreHandle, self._public(self._store))

    @property
    def monitoring(self) -> MonitoringHandle:
        """The alarms, the dashboard and the metrics the recovery got."""
        return cast(MonitoringHandle, self._public(self._monitoring))

    @property
    def workflow_id(self) -> str:
        """The workflow's id (AWS: the state machine ARN)."""
        return str(self._public(self._parts.workflow.id))

    @property
    def workflow_name(self) -> str:
        return str(self._public(self._parts.workflow.name))

    @property
    def notifier_id(self) -> str:
        """Where outcomes and alarms are published (AWS: the topic ARN), created or given."""
        return str(self._public(self._parts.notifier.id))

    @property
    def trigger_name(self) -> str:
        """The rule that starts the workflow on matching events."""
        return str(self._public(self._parts.trigger.name))

    @property
    def dead_letter_id(self) -> str:
        """Events the workflow could not take (AWS: the dead-letter queue's URL)."""
        return str(self._public(self._parts.trigger.dead_letter_id))

    @property
    def function_ids(self) -> Mapping[str, str]:
        """Step key -> the id the workflow invokes (AWS: the ``live`` alias ARN)."""
        return dict(self._public({k: fn.id for k, fn in self._parts.functions.items()}))

    @property
    def function_names(self) -> Mapping[str, str]:
        return dict(self._public({k: fn.name for k, fn in self._parts.functions.items()}))

    @property
    def function_roles(self) -> Mapping[str, Any]:
        """Step key -> the function's role (the provider's construct): grant it more here,
        e.g. use of the key that encrypts a platform's own notifier."""
        return {key: fn.role for key, fn in self._parts.functions.items()}

    @property
    def workflow_role(self) -> Any:
        return self._parts.workflow.role

    # -- grants and metrics (the integration API, as AWS CDK's grant*/metric*) ------------

    def grant_start(self, principal: Any) -> Any:
        """Let the platform's ``principal`` (its role construct, or a role name) start the
        workflow by hand (a game day, a replay); returns the policy it gets."""
        return self._grant("start", self._parts.workflow.id, principal)

    def grant_approve(self, principal: Any) -> Any:
        """Let the platform's ``principal`` call the approval endpoint. The decide function
        still refuses anyone but ``approval.approvers`` and records who decided: list the
        principal there too. A playbook without ``approval`` has nothing to approve."""
        if self.playbook.approval is None:
            raise UsageError(
                f"grant_approve: playbook {self.playbook.name} has no approval (add approval: "
                "{before: [...], approvers: [...]} to it)"
            )
        arn = principal if isinstance(principal, str) else None
        if arn and arn.startswith("arn:") and arn not in self.playbook.approval.approvers:
            raise UsageError(
                f"grant_approve: {arn} is not in approval.approvers of {self.playbook.name} "
                "(add it there: the decide function checks the list)"
            )
        return self._grant("approve", self._parts.functions[DECIDE_FUNCTION].id, principal)

    def _grant(self, what: Grant, target_id: str, principal: Any) -> Any:
        self._grants += 1
        return self._provider.grant(
            self, f"grant-{what}-{self._grants}", what, target_id, principal
        )

    def metric_outcome(self, outcome: str) -> MetricRef:
        """Recoveries that ended in ``outcome`` (``catalog.OUTCOMES``), per period."""
        if outcome not in OUTCOMES:
            raise UsageError(f"metric_outcome: {outcome!r} is not one of {', '.join(OUTCOMES)}")
        return self._metric(f"outcome:{outcome}")

    def metric_recovered(self) -> MetricRef:
        return self.metric_outcome("recovered")

    def metric_gave_up(self) -> MetricRef:
        return self.metric_outcome("gave_up")

    def metric_failed(self) -> MetricRef:
        return self.metric_outcome("failed")

    def metric_duration(self) -> MetricRef:
        """How long each recovery ran (the longest in the period)."""
        return self._metric("duration")

    def metric_attempts(self) -> MetricRef:
        """Attempts per finished recovery (the average in the period)."""
        return self._metric("attempts")

    def _metric(self, key: str) -> MetricRef:
        return cast(MetricRef, self._public(self._monitoring.metrics[key]))

    def outputs(self) -> dict[str, tuple[str, str]]:
        """Output name -> (value, description): what ``RecoveryStack`` and the plain
        Terraform module (``healstack module build``) output, from this one definition."""
        parts = self._parts  # references within this stack: as the provider wrote them
        outputs = {
            "state_machine_arn": (parts.workflow.id, "the recovery workflow"),
            "rule_name": (parts.trigger.name, "the rule that starts it"),
            "topic_arn": (parts.notifier.id, "where outcomes are published"),
            "dlq_url": (parts.trigger.dead_letter_id, "events the workflow could not take"),
        }
        if parts.trigger.hub_bus_id is not None:
            outputs["hub_event_bus_arn"] = (
                parts.trigger.hub_bus_id,
                "a hub's bus: the member parts forward this playbook's events here",
            )
        if parts.pipeline is not None:
            outputs["pipeline_name"] = (parts.pipeline.name, "ships the functions")
            if parts.pipeline.source_location is not None:
                outputs["pipeline_source"] = (
                    parts.pipeline.source_location,
                    "upload a zip of the repository here to start the pipeline",
                )
        return outputs
