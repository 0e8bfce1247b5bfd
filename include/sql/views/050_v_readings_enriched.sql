-- Layer 3 (contract §4.3): v_readings_enriched, clean readings with meter, site and device context:
-- the main view for analytics. "timestamp" is a UTC instant; added after the contract's columns:
-- site_timezone and local_timestamp (the wall-clock time at the site, timestamp without time zone),
-- so that "day vs night" style questions need no time-zone arithmetic downstream.
-- Built on v_meters (040), so a meter's context is defined once; the planner removes the unused
-- joins of v_meters when a query does not ask for device columns.
SELECT argo_build_view(
    'view',
    'v_readings_enriched',
    $view$
SELECT r.id,
       m.meter_id,
       m.meter_name,
       m.site_id,
       m.site_name,
       m.device_id,
       m.device_name,
       m.device_type,
       m.device_uuid,
       r."timestamp",
       r.energy_kwh,
       r.power_kw,
       r.voltage_v,
       r.current_a,
       r.power_factor,
       r.reactive_power_kvar,
       r.temperature_c,
       r.relative_humidity,
       r.created_at,
       m.site_timezone,
       r."timestamp" AT TIME ZONE m.site_timezone    AS local_timestamp
  FROM v_clean_readings r
  JOIN v_meters m ON m.meter_id = r.channel_id
$view$,
    ARRAY[]::text[],
    'Layer 3: clean readings with meter, site and device; timestamp is UTC, local_timestamp is site wall-clock time.'
) AS action;
