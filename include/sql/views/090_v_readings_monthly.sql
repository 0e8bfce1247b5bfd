-- Layer 3 (contract §4.3): v_readings_monthly, clean readings per meter and LOCAL calendar month.
--
-- A month is a calendar month of the SITE (organizations.timezone, America/New_York when NULL):
-- reading_month is the first day of the site-local month of the reading's interval start. The
-- readings of 1 March 00:00-04:59 in New York (05:00 UTC onwards) are March's, not February's.
-- month_start / month_end are the UTC instants bounding the local month; expected_readings counts
-- its 15-minute intervals (a March in New York has 31*96 - 4, a November 30*96 + 4).
-- reading_count counts clean readings only (NULL and zero intervals excluded, §4).
-- Built like v_readings_daily (080): each meter's site-local months between its first and last
-- reading come first (two index probes), with their UTC bounds from argo_local_to_utc (V007, exact
-- even where a DST change repeats the hour after midnight); a filter on meter_id and/or
-- reading_month applies to those rows, and only then does a LATERAL aggregate read the month's
-- clean readings with an index range scan of idx_readings_unique (channel_id, "timestamp").
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
       a.total_energy_kwh,
       a.avg_power_kw,
       a.peak_power_kw,
       a.reading_count,
       m.site_timezone,
       p.month_start,
       p.month_end,
       (extract(epoch FROM p.month_end - p.month_start) / 900)::integer AS expected_readings
  FROM v_meters m
 CROSS JOIN LATERAL (
        SELECT min(r."timestamp") AS first_ts, max(r."timestamp") AS last_ts
          FROM readings r
         WHERE r.channel_id = m.meter_id
       ) b
 CROSS JOIN LATERAL (
        SELECT g.month::date                                                   AS reading_month,
               argo_local_to_utc(g.month, m.site_timezone)                     AS month_start,
               argo_local_to_utc(g.month + interval '1 month', m.site_timezone) AS month_end
          FROM generate_series(date_trunc('month', b.first_ts AT TIME ZONE m.site_timezone),
                               date_trunc('month', b.last_ts AT TIME ZONE m.site_timezone),
                               interval '1 month') AS g (month)
       ) p
 CROSS JOIN LATERAL (
        SELECT sum(c.energy_kwh::double precision) AS total_energy_kwh,
               avg(c.power_kw)                     AS avg_power_kw,
               max(c.power_kw)                     AS peak_power_kw,
               count(*)                            AS reading_count
          FROM v_clean_readings c
         WHERE c.channel_id = m.meter_id
           AND c."timestamp" >= p.month_start
           AND c."timestamp" < p.month_end
       ) a
 WHERE a.reading_count > 0
$view$,
    ARRAY[]::text[],
    'Layer 3: clean readings per meter and site-local calendar month (organizations.timezone).'
) AS action;
