"""Fixtures of the worker's unit tests (see worker_helpers.py)."""

from worker_helpers import broker, database_away, db

__all__ = ["broker", "database_away", "db"]
