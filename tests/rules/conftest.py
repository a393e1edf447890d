"""Fixtures for the rule tests: `make_msg` builds a ParsedMessage with defaults."""

from __future__ import annotations

import pytest

from .factory import make_message


@pytest.fixture
def make_msg():
    """The `make_message(**overrides)` factory from tests/rules/factory.py."""
    return make_message
