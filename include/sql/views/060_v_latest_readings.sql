-- Layer 3 (contract §4.3): v_latest_readings, the latest clean reading of each meter (dashboards).
--
-- Design: one index probe per meter instead of a scan. The seed's form, DISTINCT ON (channel_id)
-- over v_clean_readings ORDER BY channel_id, timestamp DESC, reads and sorts every reading (most
-- of a second at 3.5M rows). Here the outer loop is the small channels table and, for each
-- channel, a LATERAL subquery walks idx_readings_channel_timestamp (channel_id, timestamp DESC)
-- from the newest entry and stops at the first clean row (LIMIT 1): tens of milliseconds at 3.5M
-- rows, independent of history length. It is always exact (no side table to keep in sync with
-- late corrections or other writers). Cost grows only for a meter whose newest readings are all
-- zero/NULL: the probe walks back over them until it finds a clean one.
--
-- Same rows and columns as the seed: meters without clean readings do not appear; then two columns
-- are added: site_timezone and local_timestamp (site wall-clock time of the reading).
SELECT argo_build_view(
    'view',
    'v_latest_readings',
    $view$
SELECT c.channel_id                                  AS meter_id,
       c.channel_name                                AS meter_name,
       c.organization_id                             AS site_id,
       o.organization_name                           AS site_name,
       l."timestamp",
       l.energy_kwh,
       l.power_kw,
       l.voltage_v,
       l.current_a,
       l.power_factor,
       COALESCE(o.timezone, 'America/New_York')      AS site_timezone,
       l."timestamp" AT TIME ZONE COALESCE(o.timezone, 'America/New_York') AS local_timestamp
  FROM channels c
  JOIN organizations o ON o.organization_id = c.organization_id
 CROSS JOIN LATERAL (
        SELECT r."timestamp", r.energy_kwh, r.power_kw, r.voltage_v, r.current_a, r.power_factor
          FROM v_clean_readings r
         WHERE r.channel_id = c.channel_id
         ORDER BY r."timestamp" DESC
         LIMIT 1
       ) l
$view$,
    ARRAY[]::text[],
    'Layer 3: latest clean reading per meter, one index probe per meter (never scans readings).'
) AS action;
