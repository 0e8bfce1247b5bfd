-- Sites that can have a report: every site with at least one meter, with its meters and the zone
-- its calendar uses (v_meters.site_timezone: organizations.timezone, the contract default when NULL).
-- Sites without meters come back with meter_id NULL so that a Variable naming one can be told apart
-- from an unknown id.
SELECT s.site_id,
       s.site_name,
       m.site_timezone,
       m.meter_id,
       m.meter_name
  FROM v_sites s
  LEFT JOIN v_meters m ON m.site_id = s.site_id
 ORDER BY s.site_id, m.meter_id;
