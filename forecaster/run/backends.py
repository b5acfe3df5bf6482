"""Which executor trains: Ray tasks when a cluster is named, the local worker pool, or this process.

Its own module so that :mod:`forecaster.run.executor` and :mod:`forecaster.run.ray_executor` (which builds on it)
need not import each other.
"""
from __future__ import annotations

from ..config import ServerSettings
from ..model.tasks import Executor, InlineExecutor
from .executor import ProcessExecutor


def make_executor(settings: ServerSettings) -> Executor:
    """Ray tasks when a cluster is named, worker processes when the settings ask for several, else
    training in the calling process."""
    if settings.ray_address:
        from .ray_executor import RayExecutor

        return RayExecutor(settings.ray_address)
    return ProcessExecutor.from_settings(settings) if settings.parallel else InlineExecutor()
