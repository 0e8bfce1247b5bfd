"""Statement and lock timeouts per statement kind, and their connection-extra overrides."""

from __future__ import annotations

import pytest

from argo_energy.warehouse.timeouts import DEFAULTS, KINDS, TimeoutConfigError, session_options, timeouts_for


def test_every_kind_has_both_bounds() -> None:
    assert set(DEFAULTS) == set(KINDS)
    for kind in KINDS:
        options = timeouts_for(kind).options()
        assert "-c statement_timeout=" in options, options
        assert "-c lock_timeout=" in options, options


def test_extra_overrides_one_setting_of_one_kind() -> None:
    extra = {"timeouts": {"refresh": {"statement_timeout": "1h"}}}
    assert timeouts_for("refresh", extra).statement_timeout == "1h"
    assert timeouts_for("refresh", extra).lock_timeout == DEFAULTS["refresh"].lock_timeout
    assert timeouts_for("write", extra) == DEFAULTS["write"]


def test_connection_options_are_kept_in_front() -> None:
    assert session_options("check", {"options": "-c search_path=public"}).startswith("-c search_path=public -c ")


@pytest.mark.parametrize(
    ("kind", "extra", "message"),
    [
        ("nope", None, "unknown statement kind"),
        ("write", {"timeouts": {"wirte": {}}}, "unknown kind"),
        ("write", {"timeouts": {"write": {"statement_timeout": "5 min; DROP"}}}, "not a PostgreSQL duration"),
        ("write", {"timeouts": {"write": {"idle": "5s"}}}, "must be an object with"),
        ("write", {"timeouts": "5min"}, "must be an object by kind"),
    ],
)
def test_bad_config_is_refused_with_its_name(kind: str, extra: dict | None, message: str) -> None:
    with pytest.raises(TimeoutConfigError, match=message):
        timeouts_for(kind, extra)
