-- Power quality per meter and 15-minute interval (issue 19): the per-interval figures that
-- v_power_quality_hourly and v_power_quality_daily aggregate, computed once here.
--
-- Read from readings, not v_clean_readings: an interval without load still has a frequency and
-- voltages. Only intervals that report a power-quality value are here. In double precision:
--   voltage_unbalance_pct = 100 * max |Vn - mean(V1..3)| / mean(V1..3)   (NEMA MG-1 definition)
--   current_unbalance_pct = the same with I1..3
--   neutral_ratio         = In / mean(I1..3)
-- Each needs all three phases: the mean is NULL when a phase is missing (and on a single-phase
-- meter), so the figure is NULL, never 0. A zero mean gives NULL too (nothing to compare with).
SELECT argo_build_view(
    'view',
    'v_power_quality_intervals',
    $view$
SELECT r.channel_id,
       r."timestamp",
       r.frequency_hz::double precision                                          AS frequency_hz,
       r.current_thd_pct::double precision                                       AS current_thd_pct,
       r.apparent_power_kva::double precision                                    AS apparent_power_kva,
       r.power_factor_l1::double precision                                       AS power_factor_l1,
       r.power_factor_l2::double precision                                       AS power_factor_l2,
       r.power_factor_l3::double precision                                       AS power_factor_l3,
       100 * greatest(abs(r.voltage_v_l1 - v.mean), abs(r.voltage_v_l2 - v.mean), abs(r.voltage_v_l3 - v.mean))
           / nullif(v.mean, 0)                                                    AS voltage_unbalance_pct,
       100 * greatest(abs(r.current_a_l1 - i.mean), abs(r.current_a_l2 - i.mean), abs(r.current_a_l3 - i.mean))
           / nullif(i.mean, 0)                                                    AS current_unbalance_pct,
       r.neutral_current_a / nullif(i.mean, 0)                                   AS neutral_ratio,
       r.neutral_current_a::double precision                                     AS neutral_current_a,
       i.mean                                                                    AS mean_phase_current_a
  FROM readings r
 CROSS JOIN LATERAL (
        SELECT (r.voltage_v_l1::double precision + r.voltage_v_l2 + r.voltage_v_l3) / 3 AS mean
       ) v
 CROSS JOIN LATERAL (
        SELECT (r.current_a_l1::double precision + r.current_a_l2 + r.current_a_l3) / 3 AS mean
       ) i
 WHERE coalesce(r.frequency_hz, r.current_thd_pct, r.apparent_power_kva, r.neutral_current_a,
                r.voltage_v_l1, r.voltage_v_l2, r.voltage_v_l3, r.current_a_l1, r.current_a_l2, r.current_a_l3,
                r.power_factor_l1, r.power_factor_l2, r.power_factor_l3) IS NOT NULL
$view$,
    ARRAY[]::text[],
    'Power quality per meter and 15-minute interval: unbalance (NEMA), neutral ratio; NULL when a phase is missing.'
) AS action;
