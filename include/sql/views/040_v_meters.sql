-- Layer 3 (contract §4.3): v_meters, channels with their device and site.
-- A meter without a device still appears (LEFT JOIN devices); a meter without a site does not
-- (it cannot be attributed), as in the seed. Meters without any reading appear here too.
-- Added after the contract's columns: site_timezone (the zone the site's calendar uses, with the
-- contract default applied when organizations.timezone is NULL).
SELECT argo_build_view(
    'view',
    'v_meters',
    $view$
SELECT c.channel_id                                  AS meter_id,
       c.channel_name                                AS meter_name,
       c.organization_id                             AS site_id,
       o.organization_name                           AS site_name,
       c.device_id,
       d.device_name,
       d.device_type,
       d.serial_number                               AS device_uuid,
       c.channel_type,
       c.unit,
       c.created_at,
       c.updated_at,
       COALESCE(o.timezone, 'America/New_York')      AS site_timezone
  FROM channels c
  JOIN organizations o ON o.organization_id = c.organization_id
  LEFT JOIN devices d ON d.device_id = c.device_id
$view$,
    ARRAY[]::text[],
    'Layer 3: meters (channels) with device and site; site_timezone is the zone of the site calendar.'
) AS action;
