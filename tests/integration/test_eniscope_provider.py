"""The ``eniscope`` connection type is registered by the provider entry point; its Test button works."""

from __future__ import annotations

import pytest

from argo_energy.eniscope.hook import EniscopeHook
from tests.fixtures.simulator import sim_conn_json

pytestmark = pytest.mark.integration


def test_connection_type_is_registered():
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    hooks = ProvidersManagerTaskRuntime().hooks
    assert "eniscope" in hooks, "entry point apache_airflow_provider not picked up (pip install -e .?)"
    info = hooks["eniscope"]
    assert info.hook_class_name == "argo_energy.eniscope.hook.EniscopeHook"
    assert info.connection_id_attribute_name == "eniscope_conn_id"


def test_form_metadata_has_labelled_fields():
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    meta = next(m for m in HookMetaService.hook_meta_data() if m.connection_type == "eniscope")
    assert meta.hook_name == "Eniscope Core API"
    assert meta.standard_fields.host.title == "Base URL"
    assert meta.standard_fields.login.title == "Account email"
    assert meta.standard_fields.port.hidden
    api_key = meta.extra_fields["api_key"]
    assert api_key["schema"]["title"] == "API key"
    assert api_key["schema"]["format"] == "password", "the key is a sensitive (masked) field"


@pytest.mark.parametrize(("api_key", "ok"), [(None, True), ("wrong-api-key-000", False)])
@pytest.mark.filterwarnings("ignore:ProvidersManager.hooks is deprecated")  # inside Airflow's Connection
def test_test_button_flow(eniscope_sim, monkeypatch, api_key, ok):
    """What the API server does for Test: export the form as a transient env connection, call the hook."""
    from airflow.models.connection import Connection

    monkeypatch.setenv("AIRFLOW_CONN_TRANSIENT_ENISCOPE", sim_conn_json(eniscope_sim, api_key=api_key))
    conn = Connection.from_json(sim_conn_json(eniscope_sim, api_key=api_key), conn_id="transient_eniscope")
    assert isinstance(conn.get_hook(), EniscopeHook)
    status, message = conn.test_connection()
    assert status is ok, message
    assert ("Connected" in message) is ok
    assert eniscope_sim.config.password not in message
    assert eniscope_sim.config.api_key not in message
