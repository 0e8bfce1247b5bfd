"""Reliability suite: faults, crashes and bad input lose nothing and leak nothing."""

import pytest

# The helper modules assert too; rewrite them for readable failures (they are imported by the tests).
pytest.register_assert_rewrite("tests.reliability.helpers", "tests.reliability.scenarios")
