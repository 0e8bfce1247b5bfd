-- One site's meters, with the site's name and the zone its calendar uses.
SELECT m.meter_id,
       m.meter_name,
       m.site_id,
       m.site_name,
       m.site_timezone
  FROM v_meters m
 WHERE m.site_id = %(site_id)s
 ORDER BY m.meter_id;
