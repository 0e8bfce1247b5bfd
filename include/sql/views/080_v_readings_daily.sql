-- Layer 3 (contract §4.3): v_readings_daily, clean readings per meter and LOCAL calendar day.
--
-- A day is a calendar day of the SITE (organizations.timezone, the contract default
-- America/New_York when NULL), not a UTC day and not the querying session's day: a reading
-- belongs to reading_date = the site-local date of its interval start. A DST change day therefore
-- has 92 (spring forward) or 100 (fall back) quarter-hours, and a +05:30 site's day starts at
-- 18:30 UTC the day before. day_start / day_end are the UTC instants bounding that local day
-- (argo_local_to_utc, V007: exact where a DST change repeats the hour after midnight) and
-- expected_readings is the number of 15-minute intervals in it (92, 96 or 100), so completeness is
-- reading_count / expected_readings (reading_count counts clean readings only: §4 aggregates
-- v_clean_readings, so NULL and zero intervals are not in it).
-- Meters without a clean reading that day have no row.
--
-- Since V009 the numbers come from rollup_daily_usage, kept by the rollup refresh for exactly the
-- meter-days a run changed (include/sql/rollups/recompute_days.sql holds the aggregate this view
-- used to compute on every query): as fresh as the last refresh, like mv_hourly_usage, and the cost
-- of a query follows the rows it returns (one meter's month is an index range of ~30 rows).
SELECT argo_build_view(
    'view',
    'v_readings_daily',
    $view$
SELECT m.meter_id,
       m.meter_name,
       m.site_id,
       m.site_name,
       d.reading_date,
       d.total_energy_kwh,
       d.avg_power_kw,
       d.peak_power_kw,
       d.avg_voltage_v,
       d.avg_power_factor,
       d.reading_count,
       m.site_timezone,
       d.day_start,
       d.day_end,
       (extract(epoch FROM d.day_end - d.day_start) / 900)::integer AS expected_readings
  FROM v_meters m
  JOIN rollup_daily_usage d ON d.meter_id = m.meter_id
$view$,
    ARRAY[]::text[],
    'Layer 3: clean readings per meter and site-local calendar day (organizations.timezone; DST days have 92/100 quarter-hours); from rollup_daily_usage.'
) AS action;
