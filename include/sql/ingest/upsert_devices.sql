-- Insert or update devices (plugins/argo_energy/warehouse/catalog.py: upsert_devices).
-- Parameters: seven arrays (device_id, name, organization_id, type, serial, firmware, last_seen).
-- updated_at moves only when a field changed; RETURNING (xmax = 0) tells inserts from updates.
INSERT INTO devices AS t
    (device_id, device_name, organization_id, device_type, serial_number, firmware_version, last_seen)
SELECT * FROM unnest(%s::integer[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],
                     %s::timestamptz[])
 ORDER BY 1
ON CONFLICT (device_id) DO UPDATE
   SET device_name = EXCLUDED.device_name, organization_id = EXCLUDED.organization_id,
       device_type = EXCLUDED.device_type, serial_number = EXCLUDED.serial_number,
       firmware_version = EXCLUDED.firmware_version, last_seen = EXCLUDED.last_seen,
       updated_at = CURRENT_TIMESTAMP
 WHERE (t.device_name, t.organization_id, t.device_type, t.serial_number, t.firmware_version, t.last_seen)
       IS DISTINCT FROM (EXCLUDED.device_name, EXCLUDED.organization_id, EXCLUDED.device_type,
                         EXCLUDED.serial_number, EXCLUDED.firmware_version, EXCLUDED.last_seen)
RETURNING (t.xmax = 0)
