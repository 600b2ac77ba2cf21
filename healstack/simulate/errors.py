"""Errors raised by the local simulator, each a single line a user can act on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from healstack.errors import HealstackError

if TYPE_CHECKING:
    from healstack.simulate.trace import SimulationResult


class SimulationError(HealstackError):
    """The simulation could not be set up or run (bad definition, missing handler, ...)."""


class ScenarioError(SimulationError):
    """A scenario is invalid. ``path`` names the field, e.g. ``scenario.mocks.Reboot["1-x"]``."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)


class SimulationTimeoutError(SimulationError):
    """An execution was still RUNNING after the real-time budget (``timeout_s``).

    ``result`` holds the partial trace of the (first) execution that was stopped;
    ``results`` (``simulate_many``) every execution that started, ended or stopped.
    """

    def __init__(
        self,
        message: str,
        result: SimulationResult,
        results: tuple[SimulationResult, ...] = (),
    ) -> None:
        self.result = result
        self.results = results or (result,)
        super().__init__(message)
