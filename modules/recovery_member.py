"""``RecoveryMember``: the member part of a hub-and-members deployment, for a set of playbooks.

The hub (the recovery account) deploys the recoveries as ``RecoveryWorkflow`` does. Each
member account and region gets this: per playbook, a rule forwarding the playbook's events
(the hub's own pattern, narrowed to the member's account) to the hub's event bus, and an
execution role only the hub's steps of that playbook can assume, holding exactly their
permissions. Cloud-free: the functions are the ones ``compile_playbook`` gives the hub, so
the member trusts and grants what the hub really runs. Use the hub's ``name_prefix`` and
``stage``: the hub's role names derive from them. Its construct ids are part of the public
API (they make the Terraform addresses): one child per playbook, named after it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from constructs import Construct

from healstack.errors import UsageError
from healstack.modules.compile import compile_playbook
from healstack.playbook import Playbook
from healstack.providers.interfaces import (
    MANAGED_BY,
    DeploymentSettings,
    HubSpec,
    MemberHandle,
    MemberProvider,
    MemberSpec,
)


def member_spec(playbook: Playbook, hub: HubSpec) -> MemberSpec:
    """What a member needs of ``playbook``: its pattern, its kind and scope, the hub's functions."""
    if playbook.trigger.bus is not None:
        raise UsageError(
            f"member {playbook.name}: trigger.bus: a member forwards events from its default "
            f'bus; a playbook triggered on its own bus ("{playbook.trigger.bus.name}") has no '
            "member part (leave it out)"
        )
    return MemberSpec(
        key=playbook.name,
        description=f"healstack: forward {playbook.name} events to the recovery account",
        event_pattern=playbook.trigger.event_pattern(),
        target_kind=playbook.target.kind,
        functions=compile_playbook(playbook).functions,
        scope_tag=playbook.target.require_tag,
        hub=hub,
        max_event_age_seconds=playbook.trigger.max_event_age,
    )


class RecoveryMember(Construct):
    """A member account and region of ``hub``, for ``playbooks`` (one part each).

    ``tag_resources``: put ``MANAGED_BY`` and ``settings.tags`` on every resource it
    creates (as ``RecoveryWorkflow``)."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        playbooks: Sequence[Playbook],
        hub: HubSpec,
        provider: MemberProvider,
        settings: DeploymentSettings | None = None,
        tag_resources: bool = True,
    ) -> None:
        super().__init__(scope, id_)
        if not playbooks:
            raise UsageError("member: give at least one playbook")
        names = [pb.name for pb in playbooks]
        if len(set(names)) != len(names):
            raise UsageError(f"member: a playbook is given twice ({', '.join(sorted(names))})")
        if hub.event_bus is not None and len(playbooks) > 1:
            # the hub listens for each playbook on a bus of its own: one bus for several
            # playbooks would drop all but one playbook's events there
            raise UsageError(
                "member: hub.event_bus names one bus, but the hub has one per playbook (leave "
                "it out and give hub.region: each playbook's bus is then found by its name)"
            )
        self.settings = settings or DeploymentSettings()
        self.hub = hub
        self._provider = provider
        self._parts: dict[str, MemberHandle] = {}
        for playbook in playbooks:
            here = Construct(self, playbook.name)
            self._parts[playbook.name] = provider.member(
                here,
                member_spec(playbook, hub),
                self.settings.base_name(playbook.name),
                self.settings,
            )
        if tag_resources:
            provider.tag_resources(self, {**MANAGED_BY, **self.settings.tags})

    @property
    def parts(self) -> dict[str, MemberHandle]:
        """Playbook name -> its forwarding rule and execution role (ids as references a
        platform may use anywhere: ``MemberProvider.exported``)."""
        return dict(self._provider.exported(self, self._parts))

    @property
    def role_ids(self) -> Mapping[str, str]:
        """Playbook name -> the execution role the hub's steps assume (AWS: its ARN)."""
        return dict(self._provider.exported(self, self._role_ids()))

    @property
    def rule_ids(self) -> Mapping[str, str]:
        """Playbook name -> the rule forwarding its events to the hub (AWS: its ARN)."""
        return dict(self._provider.exported(self, self._rule_ids()))

    def _role_ids(self) -> dict[str, str]:
        return {name: part.role_id for name, part in self._parts.items()}

    def _rule_ids(self) -> dict[str, str]:
        return {name: part.rule_id for name, part in self._parts.items()}

    def outputs(self) -> dict[str, tuple[Mapping[str, str], str]]:
        """Output name -> (value by playbook, description): what the member module outputs
        (references within the module's own stack)."""
        return {
            "role_arns": (self._role_ids(), "playbook name -> the execution role the hub assumes"),
            "rule_arns": (self._rule_ids(), "playbook name -> the rule forwarding to the hub"),
        }
