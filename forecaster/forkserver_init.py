"""Imported by multiprocessing's fork server when it starts (the first module of its preload list,
forecaster.executor): lowers the fork server's CPU priority, which the workers forked from it inherit, so
that importing torch there and training in the workers leave the dashboard server the CPU it needs for
pages. Importing it is its whole job, so only the fork server imports it."""
from __future__ import annotations

from .executor import lower_priority

lower_priority()
