"""Metrics, traces and the worker's small HTTP endpoint."""
