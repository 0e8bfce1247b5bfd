-- Layer 3 (contract §4.3): v_readings_hourly, mv_hourly_usage with meter and site names.
-- `hour` is the UTC instant that starts the hour (as in mv_hourly_usage); local_hour adds the
-- site's wall-clock time of that instant (for a half-hour-offset zone such as Asia/Kolkata a UTC
-- hour starts at hh:30 local). Only as fresh as the last refresh of mv_hourly_usage.
SELECT argo_build_view(
    'view',
    'v_readings_hourly',
    $view$
SELECT h.meter_id,
       m.meter_name,
       m.site_id,
       m.site_name,
       m.device_id,
       m.device_name,
       h.hour,
       h.avg_kw,
       h.total_kwh,
       h.reading_count,
       m.site_timezone,
       h.hour AT TIME ZONE m.site_timezone           AS local_hour
  FROM mv_hourly_usage h
  JOIN v_meters m ON m.meter_id = h.meter_id
$view$,
    ARRAY[]::text[],
    'Layer 3: hourly usage per meter with names (hour is a UTC instant); backed by mv_hourly_usage.'
) AS action;
