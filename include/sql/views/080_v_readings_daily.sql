-- Layer 3 (contract §4.3): v_readings_daily, clean readings per meter and LOCAL calendar day.
--
-- A day is a calendar day of the SITE (organizations.timezone, the contract default
-- America/New_York when NULL), not a UTC day and not the querying session's day: a reading
-- belongs to reading_date = the site-local date of its interval start. A DST change day therefore
-- has 92 (spring forward) or 100 (fall back) quarter-hours, and a +05:30 site's day starts at
-- 18:30 UTC the day before. day_start / day_end are the UTC instants bounding that local day and
-- expected_readings is the number of 15-minute intervals in it (92, 96 or 100), so completeness is
-- reading_count / expected_readings (reading_count counts clean readings only: §4 aggregates
-- v_clean_readings, so NULL and zero intervals are not in it).
-- Meters without a clean reading that day have no row.
--
-- Built so that the cost follows the answer, not the history (benchmark 4): the local days come
-- first, one row per meter and site-local day between its first and last reading (two index
-- probes), with the day's UTC bounds; a filter on meter_id and/or reading_date applies to those
-- rows, and only then does a LATERAL aggregate read that day's readings with an index range scan
-- of idx_readings_unique (channel_id, "timestamp"). The bounds come from argo_local_to_utc (V007),
-- which is exact where a DST change repeats the hour after midnight (AT TIME ZONE alone would
-- start such a day an hour late), so [day_start, day_end) holds exactly the day's readings.
SELECT argo_build_view(
    'view',
    'v_readings_daily',
    $view$
SELECT m.meter_id,
       m.meter_name,
       m.site_id,
       m.site_name,
       d.reading_date,
       a.total_energy_kwh,
       a.avg_power_kw,
       a.peak_power_kw,
       a.avg_voltage_v,
       a.avg_power_factor,
       a.reading_count,
       m.site_timezone,
       d.day_start,
       d.day_end,
       (extract(epoch FROM d.day_end - d.day_start) / 900)::integer AS expected_readings
  FROM v_meters m
 CROSS JOIN LATERAL (
        SELECT min(r."timestamp") AS first_ts, max(r."timestamp") AS last_ts
          FROM readings r
         WHERE r.channel_id = m.meter_id
       ) b
 CROSS JOIN LATERAL (
        SELECT g.day::date                                                         AS reading_date,
               argo_local_to_utc(g.day, m.site_timezone)                           AS day_start,
               argo_local_to_utc(g.day + interval '1 day', m.site_timezone)        AS day_end
          FROM generate_series((b.first_ts AT TIME ZONE m.site_timezone)::date::timestamp,
                               (b.last_ts AT TIME ZONE m.site_timezone)::date::timestamp,
                               interval '1 day') AS g (day)
       ) d
 CROSS JOIN LATERAL (
        SELECT sum(c.energy_kwh::double precision) AS total_energy_kwh,
               avg(c.power_kw)                     AS avg_power_kw,
               max(c.power_kw)                     AS peak_power_kw,
               avg(c.voltage_v)                    AS avg_voltage_v,
               avg(c.power_factor)                 AS avg_power_factor,
               count(*)                            AS reading_count
          FROM v_clean_readings c
         WHERE c.channel_id = m.meter_id
           AND c."timestamp" >= d.day_start
           AND c."timestamp" < d.day_end
       ) a
 WHERE a.reading_count > 0
$view$,
    ARRAY[]::text[],
    'Layer 3: clean readings per meter and site-local calendar day (organizations.timezone; DST days have 92/100 quarter-hours).'
) AS action;
