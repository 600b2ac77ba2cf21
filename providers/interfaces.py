"""The provider-neutral interfaces: what ``modules/`` asks of a cloud, in terms of intent.

``modules/`` composes a recovery from these parts and never imports a cloud's bindings;
each cloud implements ``CloudProvider`` in its own subpackage (``providers/aws``).
Handles carry the provider's own construct in ``resource`` (an escape hatch for a
platform repo that wants to tweak what it got) and tokens for names and ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from healstack.providers.workflow import Workflow

if TYPE_CHECKING:  # constructs starts the jsii runtime: keep `validate` free of it
    from constructs import Construct


@dataclass(frozen=True)
class DeploymentSettings:
    """Settings that shape every stack, whatever the playbook (neutral words only)."""

    name_prefix: str = "healstack"
    stage: str | None = None
    region: str = "us-east-1"
    tags: Mapping[str, str] = field(default_factory=dict)
    log_retention_days: int = 30
    #: per function; bounds a storm of events to what the target's API can take
    reserved_concurrency: int = 10
    #: a failed trigger delivery is retried for at most this long, then dead-lettered
    trigger_max_event_age_seconds: int = 3600
    trigger_max_retries: int = 8
    #: provider-specific extras, e.g. {"aws": {"endpoints": {...}}}; never read by modules/
    provider_options: Mapping[str, Any] = field(default_factory=dict)

    def base_name(self, playbook_name: str) -> str:
        """``<prefix>-<playbook>[-<stage>]``: every physical name of a recovery starts with it."""
        return "-".join(p for p in (self.name_prefix, playbook_name, self.stage) if p)


FunctionPurpose = Literal["resolve_target", "notify", "step"]


@dataclass(frozen=True)
class FunctionSpec:
    """One short function (< 10 s) the workflow calls: which job, for which target kind."""

    key: str
    purpose: FunctionPurpose
    target_kind: str
    operation: str | None = None
    description: str = ""


@dataclass(frozen=True)
class NotifierSpec:
    key: str
    emails: tuple[str, ...] = ()


@dataclass(frozen=True)
class TriggerSpec:
    key: str
    description: str
    event_pattern: Mapping[str, Any]


@dataclass(frozen=True)
class NotifierHandle:
    key: str
    id: str
    resource: Any = None


@dataclass(frozen=True)
class FunctionHandle:
    key: str
    name: str
    id: str
    resource: Any = None
    role: Any = None


@dataclass(frozen=True)
class WorkflowHandle:
    key: str
    name: str
    id: str
    resource: Any = None
    role: Any = None


@dataclass(frozen=True)
class TriggerHandle:
    key: str
    name: str
    dead_letter_id: str
    resource: Any = None


@dataclass(frozen=True)
class RecoveryParts:
    """Everything one recovery created, handed to monitoring and outputs."""

    playbook: str
    notifier: NotifierHandle
    functions: Mapping[str, FunctionHandle]
    workflow: WorkflowHandle
    trigger: TriggerHandle


class NamingRules(Protocol):
    """A cloud's naming limits, checked before any cloud code runs."""

    def problems(
        self, playbook_name: str, function_keys: list[str], settings: DeploymentSettings
    ) -> list[tuple[str, str]]:
        """(field path, message) for every name the cloud would reject; empty when all fit."""
        ...


class CloudProvider(Protocol):
    """What a cloud must implement so playbooks and ``modules/`` stay untouched."""

    name: str
    naming: NamingRules

    def configure_stack(self, stack: Construct, settings: DeploymentSettings) -> None:
        """Provider block, backend and stack-wide defaults (tags, region)."""
        ...

    def notifier(
        self, scope: Construct, spec: NotifierSpec, base_name: str, settings: DeploymentSettings
    ) -> NotifierHandle: ...

    def function(
        self,
        scope: Construct,
        spec: FunctionSpec,
        base_name: str,
        notifier: NotifierHandle,
        settings: DeploymentSettings,
        scope_tag: Mapping[str, str] | None,
    ) -> FunctionHandle: ...

    def workflow(
        self,
        scope: Construct,
        workflow: Workflow,
        base_name: str,
        functions: Mapping[str, FunctionHandle],
        settings: DeploymentSettings,
    ) -> WorkflowHandle: ...

    def trigger(
        self,
        scope: Construct,
        spec: TriggerSpec,
        base_name: str,
        workflow: WorkflowHandle,
        settings: DeploymentSettings,
    ) -> TriggerHandle: ...
