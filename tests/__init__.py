"""Mailroom's tests; a package so that `tests.servers` imports from the repository root."""
