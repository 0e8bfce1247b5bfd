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
-- Built on v_readings_enriched (050): its clean readings, site_timezone and local_timestamp, so the
-- local day is simply the site wall-clock time truncated.
SELECT argo_build_view(
    'view',
    'v_readings_daily',
    $view$
SELECT a.meter_id,
       a.meter_name,
       a.site_id,
       a.site_name,
       a.reading_date,
       a.total_energy_kwh,
       a.avg_power_kw,
       a.peak_power_kw,
       a.avg_voltage_v,
       a.avg_power_factor,
       a.reading_count,
       a.site_timezone,
       a.reading_date::timestamp AT TIME ZONE a.site_timezone       AS day_start,
       (a.reading_date + 1)::timestamp AT TIME ZONE a.site_timezone AS day_end,
       (extract(epoch FROM ((a.reading_date + 1)::timestamp AT TIME ZONE a.site_timezone)
                         - (a.reading_date::timestamp AT TIME ZONE a.site_timezone)) / 900)::integer
                                                                    AS expected_readings
  FROM (
        SELECT e.meter_id,
               e.meter_name,
               e.site_id,
               e.site_name,
               e.local_timestamp::date AS reading_date,
               sum(e.energy_kwh::double precision) AS total_energy_kwh,
               avg(e.power_kw)                     AS avg_power_kw,
               max(e.power_kw)                     AS peak_power_kw,
               avg(e.voltage_v)                    AS avg_voltage_v,
               avg(e.power_factor)                 AS avg_power_factor,
               count(*)                            AS reading_count,
               e.site_timezone
          FROM v_readings_enriched e
         GROUP BY e.meter_id, e.meter_name, e.site_id, e.site_name, e.site_timezone, e.local_timestamp::date
       ) a
$view$,
    ARRAY[]::text[],
    'Layer 3: clean readings per meter and site-local calendar day (organizations.timezone; DST days have 92/100 quarter-hours).'
) AS action;
