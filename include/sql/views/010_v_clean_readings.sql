-- Layer 1 (contract §4.1): v_clean_readings, the one place that says which readings analytics use.
-- A reading is clean when energy_kwh and power_kw are both present and non-zero: NULL means "not
-- measured" and 0 an interval the seed chose to exclude; the raw rows stay in `readings`.
-- readings."timestamp" is timestamptz (UTC instants) since V004, so the seed's cast
-- `(timestamp AT TIME ZONE 'UTC')::timestamptz`, which depended on the session TimeZone, is not needed.
-- Columns: the seed's (id .. created_at) in its order, then updated_at (set by late corrections).
--
-- Runnable alone (e.g. SQLExecuteQueryOperator(sql="views/010_v_clean_readings.sql")): argo_build_view
-- (migration V003) does nothing when the recorded definition hash matches, else CREATE OR REPLACE.
SELECT argo_build_view(
    'view',
    'v_clean_readings',
    $view$
SELECT r.id,
       r.channel_id,
       r."timestamp",
       r.energy_kwh,
       r.power_kw,
       r.voltage_v,
       r.current_a,
       r.power_factor,
       r.reactive_power_kvar,
       r.temperature_c,
       r.relative_humidity,
       r.created_at,
       r.updated_at
  FROM readings r
 WHERE r.energy_kwh IS NOT NULL AND r.energy_kwh <> 0
   AND r.power_kw IS NOT NULL AND r.power_kw <> 0
$view$,
    ARRAY[]::text[],
    'Layer 1: readings whose energy_kwh and power_kw are present and non-zero; timestamp is a UTC instant.'
) AS action;
