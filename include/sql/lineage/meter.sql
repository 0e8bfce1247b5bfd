-- Lineage, step 1: the meter (channel) and its site's zone, which decides what its local day is.
SELECT c.channel_id, c.channel_name, c.organization_id, o.organization_name, o.timezone
  FROM channels c
  LEFT JOIN organizations o ON o.organization_id = c.organization_id
 WHERE c.channel_id = %(channel_id)s;
