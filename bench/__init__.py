"""Benchmarks run by `make bench`: figures are printed, never asserted."""
