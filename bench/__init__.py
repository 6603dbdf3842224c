"""Benchmarks: scripts run by `make bench` and `make bench-smoke` (README.md). A package so that
the tests can drive the purge benchmark's own seeding (tests/test_parameter_limit.py)."""
