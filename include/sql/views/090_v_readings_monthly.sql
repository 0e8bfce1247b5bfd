-- Layer 3 (contract §4.3): v_readings_monthly, clean readings per meter and LOCAL calendar month.
--
-- A month is a calendar month of the SITE (organizations.timezone, America/New_York when NULL):
-- reading_month is the first day of the site-local month of the reading's interval start. The
-- readings of 1 March 00:00-04:59 in New York (05:00 UTC onwards) are March's, not February's.
-- month_start / month_end are the UTC instants bounding the local month (argo_local_to_utc, V007);
-- expected_readings counts its 15-minute intervals (a March in New York has 31*96 - 4, a November
-- 30*96 + 4). reading_count counts clean readings only (NULL and zero intervals excluded, §4).
--
-- Since V009 a month is the sum of its days in rollup_daily_usage: totals and counts add up, the
-- peak is the largest daily peak, and the average power is the sum of the daily power sums over the
-- sum of the daily counts (exact: never an average of averages). A filter on meter_id or
-- reading_month reaches the rollup's primary key (meter_id, reading_date).
-- Meters without a clean reading in a month have no row for it.
SELECT argo_build_view(
    'view',
    'v_readings_monthly',
    $view$
SELECT m.meter_id,
       m.meter_name,
       m.site_id,
       m.site_name,
       p.reading_month,
       p.total_energy_kwh,
       p.avg_power_kw,
       p.peak_power_kw,
       p.reading_count,
       m.site_timezone,
       argo_local_to_utc(p.reading_month::timestamp, m.site_timezone)                       AS month_start,
       argo_local_to_utc(p.reading_month::timestamp + interval '1 month', m.site_timezone)  AS month_end,
       (extract(epoch FROM argo_local_to_utc(p.reading_month::timestamp + interval '1 month', m.site_timezone)
                         - argo_local_to_utc(p.reading_month::timestamp, m.site_timezone)) / 900)::integer
                                                                                            AS expected_readings
  FROM v_meters m
  JOIN (SELECT d.meter_id,
               (d.reading_date - (extract(day FROM d.reading_date)::integer - 1))  AS reading_month,
               sum(d.total_energy_kwh)                                            AS total_energy_kwh,
               sum(d.sum_power_kw) / sum(d.reading_count)                         AS avg_power_kw,
               max(d.peak_power_kw)                                               AS peak_power_kw,
               sum(d.reading_count)::bigint                                       AS reading_count
          FROM rollup_daily_usage d
         GROUP BY d.meter_id, (d.reading_date - (extract(day FROM d.reading_date)::integer - 1))) p
    ON p.meter_id = m.meter_id
$view$,
    ARRAY[]::text[],
    'Layer 3: clean readings per meter and site-local calendar month (organizations.timezone); sums of rollup_daily_usage.'
) AS action;
