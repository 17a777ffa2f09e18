"""Test tiers (see tests/README.md): each test gets one tier marker, and a marker per real
service it needs, so ``pytest -m unit`` or ``-m "not kafka"`` selects by what a run has.

A test's tier is, in this order: its own marker (``pytestmark = pytest.mark.<tier>``), its
module in ``MODULE_TIERS``, its directory in ``DIRECTORY_TIERS``, ``faults`` for a
``test_fault_*.py``, else ``integration``: a new test is never taken for a unit test unless it
says so.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TIERS = ("unit", "integration", "faults", "contract", "frontend", "build")
# Modules whose directory does not tell their tier (paths below tests/).
MODULE_TIERS = {
    "analytics/test_presence_masks.py": "unit",
    "observability/test_sensors.py": "unit",
    "reliability/test_circuit_breaker.py": "unit",
    "security/test_pii.py": "unit",
    "test_app_open.py": "unit",
    "test_process_columns.py": "unit",
    "test_settings_sections.py": "unit",
    "test_settings_transport.py": "unit",
    "test_storage.py": "unit",
    "test_storage_errors.py": "unit",
    "test_web_errors.py": "unit",
    "test_deploy.py": "build",
    "test_lint.py": "build",
    "test_make.py": "build",
    "test_wheel.py": "build",
    "test_workflows.py": "build",
}
# The directories whose tests all belong to one tier.
DIRECTORY_TIERS = {"parsing": "unit", "worker": "unit", "transport": "contract",
                   "frontend": "frontend"}  # fmt: skip
# The fixtures that stand for a real service (shared or a test's own), and the marker each implies.
SERVICE_FIXTURES = {"postgres_server_url": "postgres", "kafka_bootstrap": "kafka",
                    "own_postgres": "postgres", "own_kafka": "kafka", "s3proxy": "s3"}  # fmt: skip
TESTS = Path(__file__).resolve().parent


def tier_of(item: pytest.Item) -> str:
    marked = [tier for tier in TIERS if item.get_closest_marker(tier) is not None]
    if len(marked) > 1:
        raise pytest.UsageError(f"{item.nodeid} is marked {' and '.join(marked)}: one tier only")
    if marked:
        return marked[0]
    relative = item.path.relative_to(TESTS)
    if relative.as_posix() in MODULE_TIERS:
        return MODULE_TIERS[relative.as_posix()]
    if len(relative.parts) > 1 and relative.parts[0] in DIRECTORY_TIERS:
        return DIRECTORY_TIERS[relative.parts[0]]
    if relative.name.startswith("test_fault_"):
        return "faults"
    return "integration"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(tier_of(item))
        for fixture, service in SERVICE_FIXTURES.items():
            if fixture in item.fixturenames and item.get_closest_marker(service) is None:
                item.add_marker(service)
