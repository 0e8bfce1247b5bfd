-- Power quality per meter of one site over the report week [%(start)s, %(end)s) (UTC instants of
-- whole site-local days), from v_power_quality_intervals (plugins/argo_energy/report/power_quality.py).
-- A range on "timestamp" and the meter ids reach idx_readings_channel_timestamp: one week is read.
-- Meters without power-quality data have no row; unbalance and neutral figures are NULL without
-- all three phases (single-phase meters, a lost phase), never 0.
SELECT m.meter_id,
       m.meter_name,
       avg(p.voltage_unbalance_pct)   AS avg_voltage_unbalance_pct,
       max(p.voltage_unbalance_pct)   AS max_voltage_unbalance_pct,
       avg(p.current_unbalance_pct)   AS avg_current_unbalance_pct,
       avg(p.current_thd_pct)         AS avg_current_thd_pct,
       max(p.current_thd_pct)         AS max_current_thd_pct,
       min(p.frequency_hz)            AS min_frequency_hz,
       max(p.frequency_hz)            AS max_frequency_hz,
       avg(p.power_factor_l1)         AS avg_power_factor_l1,
       avg(p.power_factor_l2)         AS avg_power_factor_l2,
       avg(p.power_factor_l3)         AS avg_power_factor_l3,
       max(p.neutral_ratio)           AS max_neutral_ratio,
       count(*)                       AS intervals
  FROM v_meters m
  JOIN v_power_quality_intervals p ON p.channel_id = m.meter_id
 WHERE m.site_id = %(site_id)s
   AND p."timestamp" >= %(start)s
   AND p."timestamp" < %(end)s
 GROUP BY m.meter_id, m.meter_name
 ORDER BY max(p.voltage_unbalance_pct) DESC NULLS LAST, max(p.current_thd_pct) DESC NULLS LAST, m.meter_id;
