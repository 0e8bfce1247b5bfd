-- The newest per-channel data_sync_status row of each channel
-- (plugins/argo_energy/warehouse/reads.py: latest_channel_status).
-- Parameter: channel ids.
SELECT DISTINCT ON (channel_id) channel_id, organization_id, sync_status, error_message,
       last_sync_timestamp
  FROM data_sync_status
 WHERE channel_id = ANY(%(channel_ids)s::integer[])
 ORDER BY channel_id, last_sync_timestamp DESC, id DESC
