-- Power quality per meter and UTC hour (issue 19), from the per-phase and power-quality columns of
-- readings (V011). `hour` is the UTC instant starting the hour, local_hour the site's wall-clock
-- time of it (like v_readings_hourly).
--
-- The per-interval figures (voltage/current unbalance, neutral ratio: NULL with a phase missing or
-- on a single-phase meter, never 0) come from v_power_quality_intervals; a meter that reports no
-- power-quality value has no rows. reading_count counts its intervals, three_phase_count those with
-- all three phases.
SELECT argo_build_view(
    'view',
    'v_power_quality_hourly',
    $view$
SELECT m.meter_id,
       m.meter_name,
       m.site_id,
       m.site_name,
       q.hour,
       q.hour AT TIME ZONE m.site_timezone            AS local_hour,
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
  FROM (
        SELECT p.channel_id,
               date_trunc('hour', p."timestamp", 'UTC')  AS hour,
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
         GROUP BY p.channel_id, date_trunc('hour', p."timestamp", 'UTC')
       ) q
  JOIN v_meters m ON m.meter_id = q.channel_id
$view$,
    ARRAY[]::text[],
    'Power quality per meter and UTC hour: frequency, current THD, voltage/current unbalance (NEMA), neutral ratio, PF per phase, apparent power.'
) AS action;
