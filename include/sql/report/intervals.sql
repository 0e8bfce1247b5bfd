-- The site's load per 15-minute interval of the week [start, end) (UTC instants), summed over
-- its meters, from v_readings_enriched (clean readings with the site's wall-clock time).
-- local_timestamp places each interval on the site's hour-of-day x day-of-week grid (DST-correct:
-- the repeated 01:00 of a fall-back day is two intervals with the same local hour); power_kw summed
-- over meters per interval is the site's demand, whose maximum is the peak.
-- Not mv_hourly_usage / v_readings_hourly: their hours are UTC hours (half-hour zones would be cut
-- at :30 local) and only as fresh as the last refresh.
SELECT e."timestamp",
       e.local_timestamp,
       sum(e.energy_kwh::double precision) AS energy_kwh,
       sum(e.power_kw::double precision)   AS power_kw,
       count(*)                            AS meters
  FROM v_readings_enriched e
 WHERE e.site_id = %(site_id)s
   AND e."timestamp" >= %(start)s
   AND e."timestamp" < %(end)s
 GROUP BY e."timestamp", e.local_timestamp
 ORDER BY e."timestamp";
