-- Every channel with its site's zone, the span of its data and whether the ingestion gave up on it.
--
-- first_seen: the earliest reading or pulled window start (no day before it is checked);
-- newest_reading: the freshness check's input, the newest reading with a value (energy or power:
-- a meter sending only NULLs is not fresh); unsupported: the newest per-channel
-- data_sync_status row says 'unsupported' (the API cannot serve readings for it: sensor or virtual
-- channel). Which channels are in scope is decided in Python (argo_energy.validation.checks).
-- min/max per channel are index probes on idx_readings_channel_timestamp, not scans.
WITH unsupported AS (
    SELECT s.channel_id
      FROM (SELECT DISTINCT ON (d.channel_id) d.channel_id, d.sync_status
              FROM data_sync_status d
             WHERE d.channel_id IS NOT NULL
             ORDER BY d.channel_id, d.last_sync_timestamp DESC, d.id DESC) s
     WHERE s.sync_status = 'unsupported'
),
pulled AS (
    SELECT l.channel_id, min(l.start_time) AS first_pulled
      FROM ingestion_logs l
     GROUP BY l.channel_id
)
SELECT c.channel_id,
       c.organization_id,
       o.timezone,
       least((SELECT min(r."timestamp") FROM readings r WHERE r.channel_id = c.channel_id),
             p.first_pulled)                                                      AS first_seen,
       (SELECT max(r."timestamp") FROM readings r
         WHERE r.channel_id = c.channel_id
           AND (r.energy_kwh IS NOT NULL OR r.power_kw IS NOT NULL))                AS newest_reading,
       u.channel_id IS NOT NULL                                                   AS unsupported
  FROM channels c
  LEFT JOIN organizations o ON o.organization_id = c.organization_id
  LEFT JOIN pulled p ON p.channel_id = c.channel_id
  LEFT JOIN unsupported u ON u.channel_id = c.channel_id
 ORDER BY c.channel_id;
