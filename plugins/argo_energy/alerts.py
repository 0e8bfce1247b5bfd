"""Failure alerts (Slack webhook and email). Filled in by the validation/alerts issue."""

from __future__ import annotations

from typing import Any


def failure_callbacks() -> list[Any]:
    return []
