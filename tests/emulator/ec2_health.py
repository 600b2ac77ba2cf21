"""Make moto report an EC2 instance's status checks as failing until a recovery action.

moto always reports a running instance's ``InstanceStatus`` and ``SystemStatus`` as ``ok``
(``ec2/models/instances.py`` ``Instance.instance_status`` / ``Instance.system_status``), so a
status-check recovery would find every instance healthy. ``ImpairedUntilRecovered`` patches
those two properties to answer ``impaired`` for the instances it was told about, and wraps
``Instance.reboot`` and ``Instance.start`` to record the action and heal the instance (a
reboot, or a stop then start, fixes it, as the shipped playbook expects).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

from moto.ec2.models.instances import Instance

_IMPAIRED = {
    "Details": [{"Name": "reachability", "Status": "failed"}],
    "Status": "impaired",
}


@dataclass(frozen=True)
class Action:
    """A lifecycle call moto's EC2 received for a watched instance."""

    action: str  # reboot | start
    instance_id: str


class ImpairedUntilRecovered:
    """Instances whose status checks fail until they are rebooted or started again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._impaired: set[str] = set()
        self._watched: set[str] = set()
        self._actions: list[Action] = []

    def impair(self, instance_id: str) -> None:
        with self._lock:
            self._impaired.add(instance_id)
            self._watched.add(instance_id)

    def is_impaired(self, instance_id: str) -> bool:
        with self._lock:
            return instance_id in self._impaired

    @property
    def actions(self) -> list[Action]:
        with self._lock:
            return list(self._actions)

    def _recovered_by(self, action: str, instance_id: str) -> None:
        with self._lock:
            if instance_id in self._watched:
                self._actions.append(Action(action, instance_id))
                self._impaired.discard(instance_id)

    @contextmanager
    def installed(self) -> Iterator[ImpairedUntilRecovered]:
        """Patch moto's ``Instance`` for the block; always undone."""
        original_instance = Instance.instance_status
        original_system = Instance.system_status
        original_reboot = Instance.reboot
        original_start = Instance.start

        def status_of(original: Any) -> property:
            def status(instance: Instance) -> dict[str, Any]:
                if instance.state_code == 16 and self.is_impaired(instance.id):
                    return dict(_IMPAIRED)
                return original.fget(instance)

            return property(status)

        def reboot(instance: Instance) -> None:
            original_reboot(instance)
            self._recovered_by("reboot", instance.id)

        def start(instance: Instance) -> Any:
            previous = original_start(instance)
            self._recovered_by("start", instance.id)
            return previous

        with ExitStack() as stack:
            stack.enter_context(
                mock.patch.object(Instance, "instance_status", status_of(original_instance))
            )
            stack.enter_context(
                mock.patch.object(Instance, "system_status", status_of(original_system))
            )
            stack.enter_context(mock.patch.object(Instance, "reboot", reboot))
            stack.enter_context(mock.patch.object(Instance, "start", start))
            yield self
