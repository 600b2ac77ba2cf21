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


#: the tag (label) on every resource healstack creates, beside ``DeploymentSettings.tags``
MANAGED_BY: Mapping[str, str] = {"managed-by": "healstack"}

PipelineSourceKind = Literal["upload", "repository"]
RolloutStyle = Literal["canary", "linear", "all_at_once"]


@dataclass(frozen=True)
class PipelineSource:
    """Where the function pipeline takes the code from.

    ``upload``: an archive of the repository uploaded to the pipeline's own store (works in
    any account, nothing to authorise). ``repository``: a hosted git repository
    (``owner/name``) reached through a connection the account has already authorised.
    """

    kind: PipelineSourceKind = "upload"
    repository: str | None = None
    branch: str = "main"
    #: the provider's id of the authorised connection to the repository host
    connection: str | None = None

    def __post_init__(self) -> None:
        from healstack.errors import UsageError

        if self.kind == "repository" and not (self.repository and self.connection):
            raise UsageError(
                "pipeline source: a repository source needs repository (owner/name) and "
                "connection (the authorised connection's id)"
            )
        if self.repository is not None and self.repository.count("/") != 1:
            raise UsageError(f'pipeline source: repository "{self.repository}" is not owner/name')


@dataclass(frozen=True)
class Rollout:
    """How a new function version takes traffic: a first ``percent`` then the rest after
    ``interval_minutes`` (canary), ``percent`` more every ``interval_minutes`` (linear), or
    all at once; any error alarm during the shift sends traffic back to the old version."""

    style: RolloutStyle = "canary"
    percent: int = 10
    interval_minutes: int = 5

    def __post_init__(self) -> None:
        from healstack.errors import UsageError

        if not 1 <= self.percent <= 99:
            raise UsageError(f"rollout: percent {self.percent} is not 1..99")
        if self.interval_minutes < 1:
            raise UsageError(f"rollout: interval_minutes {self.interval_minutes} is not >= 1")


@dataclass(frozen=True)
class Hub:
    """This deployment is the hub (the recovery account) of a hub-and-members set-up: its
    recoveries take events from ``members`` only, and act in the event's account and
    region (one of ``regions``) through the member's execution role."""

    #: the member accounts (the provider's ids for them), sorted, each once
    members: tuple[str, ...]
    #: the member regions; empty: the hub's own region only
    regions: tuple[str, ...] = ()
    #: only principals of this organisation may put events on the hub's bus
    organization_id: str | None = None

    def regions_or(self, own_region: str) -> tuple[str, ...]:
        """The member regions, the hub's own when none are listed."""
        return self.regions or (own_region,)


@dataclass(frozen=True)
class DeploymentSettings:
    """Settings that shape every stack, whatever the playbook (neutral words only)."""

    name_prefix: str = "healstack"
    stage: str | None = None
    region: str = "us-east-1"
    tags: Mapping[str, str] = field(default_factory=dict)
    #: a year: recovery logs are audit evidence (and checkov's CKV_AWS_338 asks for it)
    log_retention_days: int = 365
    #: per function; bounds a storm of events to what the target's API can take
    reserved_concurrency: int = 10
    #: a failed trigger delivery is retried for at most this long, then dead-lettered
    trigger_max_event_age_seconds: int = 3600
    trigger_max_retries: int = 8
    #: ship the functions through a pipeline: test -> package -> gradual rollout
    pipeline: bool = True
    pipeline_source: PipelineSource = field(default_factory=PipelineSource)
    pipeline_rollout: Rollout = field(default_factory=Rollout)
    #: who may write the ``upload`` source archive (IAM role/user ARNs, wildcards allowed),
    #: besides the account root; the artifact bucket's policy denies everyone else. Empty
    #: (the default): only the account root, i.e. no upload until a deployer is named
    pipeline_uploaders: tuple[str, ...] = ()
    #: provider-specific extras, e.g. {"aws": {"endpoints": {...}}}; never read by modules/
    provider_options: Mapping[str, Any] = field(default_factory=dict)
    #: a notifier the platform already owns (the provider's id for it, or a reference to
    #: it in the same stack): outcomes and alarms go there and no notifier is created
    existing_notifier_id: str | None = None
    #: an encryption key the platform already owns (the provider's id for it, or a
    #: reference): it encrypts everything of the recovery and no key is created
    encryption_key_id: str | None = None
    #: the store (locks, counters, the audit history) refuses deletion, also by a destroy;
    #: turn off to tear a stack down (the emulator's stacks have it off)
    store_deletion_protection: bool = True
    #: the workflow log holds each state's input and output (the events, results and
    #: approval tokens): for debugging only; off, it still logs every state's path and errors
    log_execution_data: bool = False
    #: besides the account root, who may subscribe endpoints to the recovery's own topic
    #: (IAM principal ARNs, e.g. a platform role; wildcards allowed). The principal that
    #: applies a playbook with emails must be among them, or its subscriptions are refused
    topic_subscriber_admins: tuple[str, ...] = ()
    #: the recovery account of many (``[hub]`` of healstack.toml): its recoveries act in the
    #: listed member accounts and regions; None (the default): this account and region only
    hub: Hub | None = None

    def __post_init__(self) -> None:
        from healstack.errors import UsageError

        for name in ("existing_notifier_id", "encryption_key_id"):
            value = getattr(self, name)
            if value is not None and not value.strip():
                raise UsageError(f"settings: {name} is empty (give the id, or leave it out)")

    def base_name(self, playbook_name: str) -> str:
        """``<prefix>-<playbook>[-<stage>]``: every physical name of a recovery starts with it."""
        return "-".join(p for p in (self.name_prefix, playbook_name, self.stage) if p)


FunctionPurpose = Literal[
    "resolve_target", "notify", "approval", "decide", "step", "platform_step", "fleet"
]


@dataclass(frozen=True)
class PlatformCode:
    """A platform-owned step's code and what it may do (``platform_steps`` of a playbook)."""

    #: the step's name in the playbook
    name: str
    #: the Python file (absolute; read at synthesis, never written into the output)
    file: str
    #: the file as the pipeline's source holds it (relative to the working directory)
    source_path: str
    function: str
    #: (actions, resources) pairs, exactly as declared
    permissions: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]
    timeout_seconds: int


@dataclass(frozen=True)
class FunctionSpec:
    """One short function (< 10 s) the workflow calls: which job, for which target kind."""

    key: str
    purpose: FunctionPurpose
    target_kind: str
    operation: str | None = None
    description: str = ""
    #: settings the function reads at run time (the provider passes them, e.g. as env vars)
    config: Mapping[str, str] = field(default_factory=dict)
    #: reads and writes the recovery's store (locks, history)
    uses_store: bool = False
    #: publishes to the notifier
    uses_notifier: bool = False
    #: a platform-owned step's own code (purpose ``platform_step``)
    platform: PlatformCode | None = None


@dataclass(frozen=True)
class StoreSpec:
    """A small key-value store with item expiry: locks, counters and the audit history."""

    key: str


@dataclass(frozen=True)
class NotifierSpec:
    key: str
    emails: tuple[str, ...] = ()
    #: use this notifier (the provider's id) instead of creating one; the emails still
    #: subscribe to it
    existing_id: str | None = None


@dataclass(frozen=True)
class EventBusSpec:
    """A dedicated event bus for the platform's own events: only ``publishers`` may put."""

    name: str
    publishers: tuple[str, ...]


@dataclass(frozen=True)
class TriggerSpec:
    key: str
    description: str
    #: the playbook's pattern; the provider narrows it to the stack's own account
    event_pattern: Mapping[str, Any]
    #: None: the cloud's default bus (which only the cloud's own services' events reach
    #: for ``aws.`` sources)
    bus: EventBusSpec | None = None
    #: the workflow refuses events older than this: deliveries are not retried past it
    max_event_age_seconds: int | None = None


@dataclass(frozen=True)
class NotifierHandle:
    key: str
    id: str
    #: None when the notifier is the platform's own (``existing_notifier_id``)
    resource: Any = None


@dataclass(frozen=True)
class FunctionHandle:
    key: str
    name: str
    id: str
    resource: Any = None
    role: Any = None


@dataclass(frozen=True)
class StoreHandle:
    key: str
    name: str
    id: str
    resource: Any = None


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
    #: a hub's bus, where its members forward their events (AWS: its ARN); None otherwise
    hub_bus_id: str | None = None


@dataclass(frozen=True)
class PipelineSpec:
    """Ship the recovery's functions: test the handlers, package them, then move each
    function's served version gradually (``rollout``), backing out on errors."""

    key: str
    source: PipelineSource
    rollout: Rollout
    #: function key -> the alarm that stops and backs out its rollout (e.g. monitoring's
    #: step-error alarms); None: the provider creates one error alarm per function
    rollback_alarms: Mapping[str, str] | None = None


@dataclass(frozen=True)
class PipelineHandle:
    key: str
    name: str
    id: str
    #: where an ``upload`` source archive goes (None for a repository source)
    source_location: str | None = None
    resource: Any = None


@dataclass(frozen=True)
class RecoveryParts:
    """Everything one recovery created, handed to monitoring and outputs."""

    playbook: str
    notifier: NotifierHandle
    functions: Mapping[str, FunctionHandle]
    workflow: WorkflowHandle
    trigger: TriggerHandle
    pipeline: PipelineHandle | None = None


@dataclass(frozen=True)
class MetricRef:
    """A metric a platform can alarm on or graph with its own resources (AWS: a CloudWatch
    metric: namespace, name, dimensions), with the statistic and period it is meant for."""

    namespace: str
    name: str
    dimensions: Mapping[str, str]
    statistic: str
    period_seconds: int
    unit: str | None = None


#: what ``CloudProvider.grant`` can give a platform's principal
Grant = Literal["start", "approve"]


@dataclass(frozen=True)
class MonitoringHandle:
    """The alarms (by short key) and the dashboard a recovery got."""

    alarms: Mapping[str, str]
    dashboard: str
    #: function key -> the alarm on that function's unexpected errors (rollouts back out on it)
    function_alarms: Mapping[str, str] = field(default_factory=dict)
    #: ``outcome:<outcome>`` (recoveries that ended so), ``duration``, ``attempts``
    metrics: Mapping[str, MetricRef] = field(default_factory=dict)


class NamingRules(Protocol):
    """A cloud's naming limits, checked before any cloud code runs."""

    def problems(
        self, playbook_name: str, function_keys: list[str], settings: DeploymentSettings
    ) -> list[tuple[str, str]]:
        """(field path, message) for every name the cloud would reject; empty when all fit."""
        ...

    def tag_problems(self, tags: Mapping[str, str]) -> list[str]:
        """One line (naming the tag, saying the limit) for every tag the cloud would reject."""
        ...

    def principal_problem(self, principal: str, *, wildcards: bool = False) -> str | None:
        """Why the cloud would not take ``principal`` (an approver, a publisher) as one of its
        principals, with the fix; None when it would. ``wildcards``: ``*`` may stand for part
        of a name (where a policy matches patterns)."""
        ...


class CloudProvider(Protocol):
    """What a cloud must implement so playbooks and ``modules/`` stay untouched."""

    name: str
    naming: NamingRules

    def configure_stack(self, stack: Construct, settings: DeploymentSettings) -> None:
        """Provider block, backend and stack-wide defaults (tags, region)."""
        ...

    def tag_resources(self, scope: Construct, tags: Mapping[str, str]) -> None:
        """Put ``tags`` on every resource under ``scope`` that takes tags: for a recovery in
        a stack whose provider configuration (and its stack-wide tags) is not healstack's."""
        ...

    def exported(self, scope: Construct, value: Any) -> Any:
        """``value`` (an id or name a handle holds, or mappings, sequences and handles of
        them) as a platform may use it anywhere, in another stack too: what the provider
        wrote as its own references while building becomes the core's references (tokens).
        Called when a platform reads a handle, so a provider may build lazily."""
        ...

    def notifier(
        self, scope: Construct, spec: NotifierSpec, base_name: str, settings: DeploymentSettings
    ) -> NotifierHandle: ...

    def store(
        self, scope: Construct, spec: StoreSpec, base_name: str, settings: DeploymentSettings
    ) -> StoreHandle:
        """Created before the functions and the workflow, which may use it."""
        ...

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

    def monitoring(
        self, scope: Construct, parts: RecoveryParts, base_name: str, settings: DeploymentSettings
    ) -> MonitoringHandle:
        """Alarms on every way a recovery can go wrong, all notifying; a dashboard; and the
        metrics a platform may alarm on itself."""
        ...

    def grant(self, scope: Construct, id_: str, what: Grant, target_id: str, principal: Any) -> Any:
        """Let the platform's own ``principal`` (a role construct, or a role name) ``start``
        the workflow ``target_id``, or ``approve``: call the decide function ``target_id``;
        returns what was created."""
        ...

    def pipeline(
        self,
        scope: Construct,
        spec: PipelineSpec,
        base_name: str,
        functions: Mapping[str, FunctionHandle],
        settings: DeploymentSettings,
    ) -> PipelineHandle:
        """Test -> package -> gradual rollout of ``functions``; called when
        ``settings.pipeline`` is on, after the functions exist."""
        ...


# -- organisation scale: a member account and region of a hub (the recovery account) ----


@dataclass(frozen=True)
class HubSpec:
    """The recovery account (the hub) a member account and region forwards its events to
    and lets act: the hub's steps assume the member's execution role."""

    #: the hub account's id
    account: str
    #: the hub's event bus for a member part of ONE playbook: its name (in ``account`` and
    #: ``region``) or the provider's id for it (AWS: the bus ARN). None (the default): each
    #: playbook's own hub bus, named after its recovery in the hub's ``region`` (a hub
    #: listens for each playbook on a bus of its own)
    event_bus: str | None = None
    #: the hub's region; needed unless ``event_bus`` is an id that names it
    region: str | None = None
    #: only principals of this organisation may act (the provider's id for it)
    organization_id: str | None = None


@dataclass(frozen=True)
class MemberSpec:
    """One playbook's part in a member account and region: its events go to the hub, and
    the hub's steps of this playbook may act here with exactly their own permissions."""

    key: str
    description: str
    #: the playbook's pattern; the provider narrows it to the member's own account, as the
    #: hub's trigger narrows it to the hub's
    event_pattern: Mapping[str, Any]
    target_kind: str
    #: the hub's functions of this playbook (as ``RecoveryWorkflow`` gets them): the ones that
    #: act on the target are trusted, and their permissions are the role's
    functions: tuple[FunctionSpec, ...]
    #: the playbook's ``require_tag``: a condition on every mutating permission
    scope_tag: Mapping[str, str] | None
    hub: HubSpec
    max_event_age_seconds: int | None = None


@dataclass(frozen=True)
class MemberHandle:
    key: str
    #: the rule forwarding the playbook's events to the hub (AWS: name and ARN)
    rule_name: str
    rule_id: str
    #: the execution role the hub's steps assume (AWS: name and ARN)
    role_name: str
    role_id: str
    resource: Any = None
    role: Any = None


class MemberProvider(Protocol):
    """What a cloud implements for the member part of a hub-and-members deployment."""

    name: str

    def member(
        self, scope: Construct, spec: MemberSpec, base_name: str, settings: DeploymentSettings
    ) -> MemberHandle:
        """The forwarding rule and the execution role of one playbook; ``base_name`` is the
        hub's for the same playbook (the hub's role names derive from it)."""
        ...

    def tag_resources(self, scope: Construct, tags: Mapping[str, str]) -> None:
        """As ``CloudProvider.tag_resources``."""
        ...

    def exported(self, scope: Construct, value: Any) -> Any:
        """As ``CloudProvider.exported``."""
        ...
