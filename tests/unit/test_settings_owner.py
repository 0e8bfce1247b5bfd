"""The owner connection is chosen at run time: ``owner_conn_id()`` and its Jinja twin agree."""

from __future__ import annotations

from typing import Any

import jinja2
import pytest

from argo_energy import settings


class _Conns:
    """Airflow's template ``conn`` accessor, reduced to ``get``: a connection or the default."""

    def __init__(self, defined: set[str]) -> None:
        self.defined = defined

    def get(self, conn_id: str, default_conn: Any = None) -> Any:
        return object() if conn_id in self.defined else default_conn


@pytest.mark.parametrize(
    ("defined", "expected"),
    [({settings.ENERGY_CONN_ID, settings.OWNER_CONN_ID}, settings.OWNER_CONN_ID),
     ({settings.ENERGY_CONN_ID}, settings.ENERGY_CONN_ID)],
)
def test_owner_connection_is_used_when_defined_else_the_writers(defined, expected, monkeypatch):
    rendered = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=True).from_string(
        settings.owner_conn_template()
    ).render(conn=_Conns(defined))
    assert rendered == expected
    monkeypatch.setattr(settings, "connection_or_none", lambda cid: object() if cid in defined else None)
    assert settings.owner_conn_id() == expected
