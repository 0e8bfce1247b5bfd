-- Cache a channel's discovered field codes with the device type they belong to
-- (plugins/argo_energy/warehouse/catalog.py: record_channel_fields). Rediscovered only when the
-- channel's device type changes. Parameters: channel id, codes (text[]), device type id.
UPDATE channels
   SET reading_fields = %(fields)s::text[],
       fields_device_type = %(device_type)s,
       fields_discovered_at = CURRENT_TIMESTAMP
 WHERE channel_id = %(channel_id)s
