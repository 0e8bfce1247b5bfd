-- One data_sync_status row (plugins/argo_energy/warehouse/store.py: record_sync_status).
-- The table is a history: the newest row per site (channel_id NULL) or channel is the current state.
INSERT INTO data_sync_status
    (organization_id, channel_id, last_sync_timestamp, last_reading_timestamp,
     readings_count, sync_status, error_message)
VALUES (%s, %s, %s, %s, %s, %s, %s)
