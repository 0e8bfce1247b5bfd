-- V015: the pipeline's window writer marks what it wrote itself (issue 15, write-path target).
--
-- Until now every INSERT/UPDATE statement on readings ran argo_rollup_mark() (V009): a PL/pgSQL call
-- that aggregates the statement's transition table and appends one rollup_queue row. The window
-- writer (argo_energy.warehouse.store.write_window) knows that marker before it writes: its channel
-- and the first and last timestamp of its rows. It now appends the same (channel_id, first UTC hour,
-- last UTC hour) row inside the statement that writes its ingestion_logs row (no extra statement,
-- no extra round trip), and says so for its own transaction only:
--
--     set_config('argo.rollup_marked', 'on', true)    -- is_local: gone at COMMIT or ROLLBACK
--
-- The INSERT and UPDATE triggers skip their function while that setting is 'on'. Everything else is
-- unchanged: any other writer (a manual INSERT or UPDATE, a migration, psql) never sets it, so its
-- statements are marked by the triggers as before; DELETE and TRUNCATE are always marked by them.
-- A session that sets argo.rollup_marked without writing the marker would leave the rollups stale
-- until the validation DAG's `rollups` check or `rebuild-rollups` finds it: only write_window sets it.
--
-- CREATE OR REPLACE TRIGGER takes the same SHARE ROW EXCLUSIVE lock as V009's CREATE TRIGGER: readers
-- of readings never wait; a writer in the middle of a window is waited for, at most 60 s.
SELECT set_config('argo.v015_lock_timeout', current_setting('lock_timeout'), true) AS saved;
SET LOCAL lock_timeout = '60s';
CREATE OR REPLACE TRIGGER argo_rollup_readings_insert AFTER INSERT ON readings
    REFERENCING NEW TABLE AS argo_new_rows FOR EACH STATEMENT
    WHEN (current_setting('argo.rollup_marked', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION argo_rollup_mark();
CREATE OR REPLACE TRIGGER argo_rollup_readings_update AFTER UPDATE ON readings
    REFERENCING OLD TABLE AS argo_old_rows NEW TABLE AS argo_new_rows FOR EACH STATEMENT
    WHEN (current_setting('argo.rollup_marked', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION argo_rollup_mark();
SELECT set_config('lock_timeout', current_setting('argo.v015_lock_timeout'), true) AS restored;

COMMENT ON TABLE rollup_queue IS
    'Append-only markers of changed readings: (channel, first UTC hour, last UTC hour); (channel, NULL) all days of a meter; (NULL, NULL) everything. Written by the readings triggers, and by write_window for its own windows (V015).';
