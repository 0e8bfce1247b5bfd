-- Type and description of channels, to tell metering channels (they have energy) from sensors.
SELECT c.channel_id, c.channel_name, c.channel_type, c.description, c.unit
  FROM channels c
 WHERE c.channel_id = ANY(%(channel_ids)s::integer[])
 ORDER BY c.channel_id;
