"""Approval requests in the store: one place for their id, key and fields.

A request is one item ``pk = approval#<execution name>``, ``sk = <action>#attempt-<n>``,
written by the approval function (``approval.handle``, phase ``request``) and decided only
by the decide function (``decide.decide``), which checks who the approver is. Its id, what
approvers type (``healstack approve ID``), is ``<execution name>/<action>/<attempt>``: no
secret, so it may go into email, logs and chat; knowing it grants nothing.

Fields: ``status`` (``pending`` | ``approved`` | ``rejected``), ``resource_id``, ``action``,
``attempt``, ``playbook``, ``execution``, ``requested_at`` and ``expires_at`` (epoch
seconds; after it nobody may decide, and the workflow has stopped waiting), and once
decided ``decided_by`` (the approver's full session ARN), ``decided_at``, ``reason``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import InvalidInput

PENDING = "pending"
APPROVED = "approved"
REJECTED = "rejected"
DECISIONS = {"approve": APPROVED, "reject": REJECTED}

_EXECUTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_ACTION = re.compile(r"^[a-z][a-z_]{0,39}$")
_ID = re.compile(
    r"^(?P<execution>[A-Za-z0-9_-]{1,80})/(?P<action>[a-z][a-z_]{0,39})/(?P<attempt>[1-9]\d?)$"
)


@dataclass(frozen=True)
class ApprovalKey:
    """Which approval request: the execution (by name), the action and the attempt."""

    execution_name: str
    action: str
    attempt: int

    @property
    def id(self) -> str:
        return f"{self.execution_name}/{self.action}/{self.attempt}"

    def item_key(self) -> dict[str, dict[str, str]]:
        return {
            "pk": {"S": f"approval#{self.execution_name}"},
            "sk": {"S": f"{self.action}#attempt-{self.attempt}"},
        }


def key_for(execution_arn: str, action: str, attempt: int) -> ApprovalKey:
    """The key of the request an execution makes for ``action`` on ``attempt``."""
    name = execution_arn.rsplit(":", 1)[-1]
    if not _EXECUTION_NAME.match(name):
        raise InvalidInput("execution_id does not end in an execution name")
    if not _ACTION.match(action):
        raise InvalidInput("params.action must name the action to approve")
    return ApprovalKey(name, action, attempt)


def parse_id(text: object) -> ApprovalKey:
    """An approval id as approvers give it; ``InvalidInput`` (never echoing it) if malformed."""
    match = _ID.match(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidInput(
            "approval_id is not <execution name>/<action>/<attempt> (copy it from the request)"
        )
    return ApprovalKey(match["execution"], match["action"], int(match["attempt"]))
