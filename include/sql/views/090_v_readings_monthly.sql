-- Layer 3 (contract §4.3): v_readings_monthly, clean readings per meter and LOCAL calendar month.
--
-- A month is a calendar month of the SITE (organizations.timezone, America/New_York when NULL):
-- reading_month is the first day of the site-local month of the reading's interval start. The
-- readings of 1 March 00:00-04:59 in New York (05:00 UTC onwards) are March's, not February's.
-- month_start / month_end are the UTC instants bounding the local month; expected_readings counts
-- its 15-minute intervals (a March in New York has 31*96 - 4, a November 30*96 + 4).
-- reading_count counts clean readings only (NULL and zero intervals excluded, §4).
-- Built on v_readings_enriched (050): its clean readings, site_timezone and local_timestamp, so the
-- local month is simply the site wall-clock time truncated. The bounds come from argo_local_to_utc
-- (V007): exact even where a DST change repeats the hour after midnight.
SELECT argo_build_view(
    'view',
    'v_readings_monthly',
    $view$
SELECT a.meter_id,
       a.meter_name,
       a.site_id,
       a.site_name,
       a.reading_month,
       a.total_energy_kwh,
       a.avg_power_kw,
       a.peak_power_kw,
       a.reading_count,
       a.site_timezone,
       argo_local_to_utc(a.reading_month::timestamp, a.site_timezone)                     AS month_start,
       argo_local_to_utc(a.reading_month + interval '1 month', a.site_timezone)            AS month_end,
       (extract(epoch FROM argo_local_to_utc(a.reading_month + interval '1 month', a.site_timezone)
                         - argo_local_to_utc(a.reading_month::timestamp, a.site_timezone)) / 900)::integer
                                                                                         AS expected_readings
  FROM (
        SELECT e.meter_id,
               e.meter_name,
               e.site_id,
               e.site_name,
               date_trunc('month', e.local_timestamp)::date AS reading_month,
               sum(e.energy_kwh::double precision) AS total_energy_kwh,
               avg(e.power_kw)                     AS avg_power_kw,
               max(e.power_kw)                     AS peak_power_kw,
               count(*)                            AS reading_count,
               e.site_timezone
          FROM v_readings_enriched e
         GROUP BY e.meter_id, e.meter_name, e.site_id, e.site_name, e.site_timezone, date_trunc('month', e.local_timestamp)::date
       ) a
$view$,
    ARRAY[]::text[],
    'Layer 3: clean readings per meter and site-local calendar month (organizations.timezone).'
) AS action;
