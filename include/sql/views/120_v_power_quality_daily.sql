-- Power quality per meter and SITE-LOCAL calendar day (issue 19): v_power_quality_intervals
-- grouped by the site-local date of each interval start (organizations.timezone, the contract
-- default America/New_York when NULL), as v_readings_daily counts days. Same figures as
-- v_power_quality_hourly. A meter without power-quality data has no rows.
SELECT argo_build_view(
    'view',
    'v_power_quality_daily',
    $view$
SELECT m.meter_id,
       m.meter_name,
       m.site_id,
       m.site_name,
       q.reading_date,
       m.site_timezone,
       q.min_frequency_hz,
       q.avg_frequency_hz,
       q.max_frequency_hz,
       q.avg_current_thd_pct,
       q.max_current_thd_pct,
       q.avg_voltage_unbalance_pct,
       q.max_voltage_unbalance_pct,
       q.avg_current_unbalance_pct,
       q.max_current_unbalance_pct,
       q.avg_neutral_ratio,
       q.max_neutral_ratio,
       q.avg_power_factor_l1,
       q.avg_power_factor_l2,
       q.avg_power_factor_l3,
       q.avg_apparent_power_kva,
       q.max_apparent_power_kva,
       q.reading_count,
       q.three_phase_count
  FROM v_meters m
  JOIN LATERAL (
        SELECT (p."timestamp" AT TIME ZONE m.site_timezone)::date AS reading_date,
               min(p.frequency_hz)                       AS min_frequency_hz,
               avg(p.frequency_hz)                       AS avg_frequency_hz,
               max(p.frequency_hz)                       AS max_frequency_hz,
               avg(p.current_thd_pct)                    AS avg_current_thd_pct,
               max(p.current_thd_pct)                    AS max_current_thd_pct,
               avg(p.voltage_unbalance_pct)              AS avg_voltage_unbalance_pct,
               max(p.voltage_unbalance_pct)              AS max_voltage_unbalance_pct,
               avg(p.current_unbalance_pct)              AS avg_current_unbalance_pct,
               max(p.current_unbalance_pct)              AS max_current_unbalance_pct,
               avg(p.neutral_ratio)                      AS avg_neutral_ratio,
               max(p.neutral_ratio)                      AS max_neutral_ratio,
               avg(p.power_factor_l1)                    AS avg_power_factor_l1,
               avg(p.power_factor_l2)                    AS avg_power_factor_l2,
               avg(p.power_factor_l3)                    AS avg_power_factor_l3,
               avg(p.apparent_power_kva)                 AS avg_apparent_power_kva,
               max(p.apparent_power_kva)                 AS max_apparent_power_kva,
               count(*)                                  AS reading_count,
               count(p.voltage_unbalance_pct)            AS three_phase_count
          FROM v_power_quality_intervals p
         WHERE p.channel_id = m.meter_id
         GROUP BY 1
       ) q ON true
$view$,
    ARRAY[]::text[],
    'Power quality per meter and site-local calendar day (organizations.timezone).'
) AS action;
