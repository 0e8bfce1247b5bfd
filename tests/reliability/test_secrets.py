"""Secrets: after the full run with faults no credential or session token is in any task log, XCom,
metadata table, exception text or warehouse table; no SQL statement is built by pasting values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.simulator import SIM_NOW, sim_conn_json
from tests.reliability.helpers import (
    REPO,
    ExecutionApi,
    Figures,
    metadata_db_path,
    sim_config,
    small_sites,
    task_log_files,
)
from tests.reliability.scans import (
    exception_texts,
    find_in_files,
    find_in_postgres,
    find_in_sqlite,
    jinja_in_sql_files,
    pasted_sql,
    pasted_sql_in_tree,
    secret_values,
)
from tests.reliability.scenarios import FaultyRuns

pytest_plugins = ["tests.reliability.helpers", "tests.reliability.scenarios"]


@pytest.mark.integration
def test_no_secret_in_task_logs_xcoms_metadata_or_warehouse(
    faulty_daily_runs: FaultyRuns, execution_api: ExecutionApi, figures: Figures, tmp_path: Path
):
    runs = faulty_daily_runs
    secrets = secret_values(runs.sim)
    tokens = [name for name in secrets if name.startswith("session_token")]
    assert len(tokens) >= 2, "the runs should have needed several session tokens (expiry mid-run)"

    # The scanner finds what it looks for (a test that cannot fail proves nothing).
    canary = tmp_path / "canary.log"
    canary.write_text(f"header X-Eniscope-Token: {secrets[tokens[0]].upper()}\n")
    assert [leak.secret for leak in find_in_files([canary], secrets)] == [tokens[0]]

    logs = task_log_files()
    runs_logs = [p for p in logs if any(f"run_id={r.run_id}" in str(p) for r in runs.runs)]
    readings_logs = [p for p in runs_logs if "task_id=sync_readings" in str(p)]
    # try 1 and the retries of both runs each wrote their own log file
    assert len(readings_logs) == sum(r.tries["sync_readings"][0].try_number for r in runs.runs), readings_logs
    text = "\n".join(p.read_text() for p in readings_logs)
    assert "retrying" in text, "the hook's retries are not in the task logs: the scan would prove little"
    assert "failure logged" in text

    leaks = find_in_files([*logs, execution_api.log_path], secrets)
    meta_leaks, meta_rows = find_in_sqlite(metadata_db_path(), secrets)
    wh_leaks, wh_rows = find_in_postgres(runs.dsn, secrets)
    assert meta_rows.get("xcom", 0) > 0, "no XCom in the metadata DB: nothing was scanned"
    assert wh_rows["ingestion_logs"] > 0
    assert wh_rows["readings_rejected"] > 0
    everything = leaks + meta_leaks + wh_leaks
    assert not everything, "secrets leaked:\n" + "\n".join(map(str, everything))
    figures.record(
        "secrets",
        secrets_checked=len(secrets),
        log_files_scanned=len(logs) + 1,
        metadata_rows_scanned=sum(meta_rows.values()),
        warehouse_rows_scanned=sum(wh_rows.values()),
        leaks=len(everything),
        rows_compared=0,
        execution_api_startup_seconds=execution_api.startup_seconds,
    )


def pull(hook: Any, channel: int) -> None:
    """What a readings task asks the API: the channel list, then one window."""
    hook.list_channels()
    hook.get_readings(channel, SIM_NOW.replace(hour=0), SIM_NOW.replace(hour=6))


@pytest.mark.integration
def test_exception_texts_carry_no_secret(make_simulator: Any, monkeypatch: pytest.MonkeyPatch):
    from argo_energy.eniscope.errors import EniscopeError
    from argo_energy.eniscope.hook import EniscopeHook

    sim = make_simulator(sim_config(SIM_NOW, small_sites(ny_meters=1, kolkata_meters=0)))
    wrong_password, wrong_key = "wrong-password-5b7c", "wrong-api-key-77aa"
    secrets = {
        **secret_values(sim),
        **{f"wrong_{k}": v for k, v in secret_values(sim, password=wrong_password).items()},
        "wrong_api_key": wrong_key,
    }
    cases = {
        "wrong password": {"password": wrong_password},
        "wrong api key": {"api_key": wrong_key},
        "server errors": {"max_retries": 1},
        "malformed bodies": {"max_retries": 1},
    }
    texts = []
    for name, conn in cases.items():
        monkeypatch.setenv("AIRFLOW_CONN_ENISCOPE_DEFAULT", sim_conn_json(sim, **conn))
        sim.faults.reset()
        sim.faults.scope = "readings"
        if name == "server errors":
            sim.faults.error_next = 2
        if name == "malformed bodies":
            sim.faults.malformed_next = 2
        with pytest.raises(EniscopeError) as failed:
            pull(EniscopeHook(), sim.channel_ids("meter")[0])
        texts.append(exception_texts(failed.value))
    leaked = [name for name, value in secrets.items() if any(value.lower() in t.lower() for t in texts)]
    assert not leaked, f"exception texts contain {leaked}:\n" + "\n".join(texts)
    assert "password is likely wrong" in texts[0], texts[0]
    assert "API key" in texts[1], texts[1]


def test_no_sql_statement_is_built_by_pasting_values():
    # The scanner catches each way of pasting (and not psycopg.sql composition or constants).
    bad = "\n".join(
        [
            'cur.execute(f"SELECT * FROM readings WHERE channel_id = {channel_id}")',
            'cur.execute("DELETE FROM readings WHERE id = %s" % reading_id)',
            'q = "UPDATE readings SET power_kw = {} WHERE id = 1".format(value)',
            'q = "INSERT INTO channels VALUES (\'" + name + "\')"',
        ]
    )
    assert sorted(p.line for p in pasted_sql(bad)) == [1, 2, 3, 4, 4]
    good = "\n".join(
        [
            'cur.execute("SELECT * FROM readings WHERE channel_id = %s", (channel_id,))',
            'q = sql.SQL("SELECT * FROM {} WHERE id = %s").format(sql.Identifier(table))',
            "Q = f\"SELECT {COLUMNS} FROM readings WHERE x IN ({', '.join('%s' for _ in COLUMNS)})\"",
        ]
    )
    assert pasted_sql(good) == []

    found, files = [], 0
    for folder in ("plugins", "dags"):
        more, count = pasted_sql_in_tree(REPO / folder)
        found += more
        files += count
    assert files > 20
    assert not found, "SQL built from runtime values:\n" + "\n".join(map(str, found))
    assert jinja_in_sql_files(REPO / "include" / "sql") == []
