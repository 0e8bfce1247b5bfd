-- Layer 2 (contract §4.2): mv_hourly_usage, clean readings aggregated per meter and UTC hour.
-- `hour` is a UTC instant: date_trunc('hour', ts, 'UTC') truncates in UTC whatever the session
-- TimeZone is (the seed's two-argument date_trunc followed the session, so two refreshes from
-- differently configured clients disagreed, and a +05:30 session cut Kolkata hours at :30).
-- total_kwh sums in double precision (sum(real) would accumulate in single precision).
-- The unique index on (meter_id, hour) is what REFRESH MATERIALIZED VIEW CONCURRENTLY needs.
--
-- Definition-hash policy (argo_build_view, migration V003): when this file's definition, index or
-- comment is unchanged and the view exists, nothing happens (no lock, readers never wait). When it
-- changed, the view is dropped and created WITH DATA in the same transaction, after dropping the
-- managed views that depend on it (v_readings_hourly, recreated by its own file later in order).
-- Data is kept current by the refresh (views/refresh/mv_hourly_usage.sql), not by this file.
SELECT argo_build_view(
    'materialized view',
    'mv_hourly_usage',
    $view$
SELECT c.channel_id                              AS meter_id,
       date_trunc('hour', c."timestamp", 'UTC')  AS hour,
       avg(c.power_kw)                           AS avg_kw,
       sum(c.energy_kwh::double precision)       AS total_kwh,
       count(*)                                  AS reading_count
  FROM v_clean_readings c
 GROUP BY c.channel_id, date_trunc('hour', c."timestamp", 'UTC')
$view$,
    ARRAY['CREATE UNIQUE INDEX idx_mv_hourly_usage_meter_hour ON mv_hourly_usage (meter_id, hour)'],
    'Layer 2: clean readings per meter and UTC hour (hour is a UTC instant). Refreshed after ingestion.'
) AS action;
