-- The field codes discovered for each channel and the device type they were discovered for
-- (plugins/argo_energy/warehouse/catalog.py: channel_fields). NULL reading_fields: not discovered yet.
-- Parameter: channel ids.
SELECT channel_id, reading_fields, fields_device_type
  FROM channels
 WHERE channel_id = ANY(%(channel_ids)s::integer[])
