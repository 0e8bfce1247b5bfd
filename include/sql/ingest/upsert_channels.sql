-- Insert or update channels (plugins/argo_energy/warehouse/catalog.py: upsert_channels).
-- Parameters: seven arrays (channel_id, name, device_id, organization_id, type, unit, description).
-- updated_at moves only when a field changed; RETURNING (xmax = 0) tells inserts from updates.
INSERT INTO channels AS t
    (channel_id, channel_name, device_id, organization_id, channel_type, unit, description)
SELECT * FROM unnest(%s::integer[], %s::text[], %s::integer[], %s::text[], %s::text[], %s::text[], %s::text[])
 ORDER BY 1
ON CONFLICT (channel_id) DO UPDATE
   SET channel_name = EXCLUDED.channel_name, device_id = EXCLUDED.device_id,
       organization_id = EXCLUDED.organization_id, channel_type = EXCLUDED.channel_type,
       unit = EXCLUDED.unit, description = EXCLUDED.description, updated_at = CURRENT_TIMESTAMP
 WHERE (t.channel_name, t.device_id, t.organization_id, t.channel_type, t.unit, t.description)
       IS DISTINCT FROM (EXCLUDED.channel_name, EXCLUDED.device_id, EXCLUDED.organization_id,
                         EXCLUDED.channel_type, EXCLUDED.unit, EXCLUDED.description)
RETURNING (t.xmax = 0)
