-- Claim every marker this transaction can see (DELETE ... RETURNING). Markers of writers that have
-- not committed are invisible, survive, and are claimed by the next refresh. A marker's hour range
-- [hour, hour_to] (V009: first and last UTC hour a statement wrote for the channel) is expanded to
-- its hours. Returns: markers claimed, meter-hours, whole meters, and whether a marker asked for
-- everything (TRUNCATE).
WITH claimed AS (
    DELETE FROM rollup_queue RETURNING channel_id, hour, hour_to
),
hours AS (
    INSERT INTO argo_rollup_hours (channel_id, hour)
    SELECT DISTINCT c.channel_id, g.hour
      FROM claimed c
     CROSS JOIN LATERAL generate_series(c.hour, COALESCE(c.hour_to, c.hour), interval '1 hour') AS g (hour)
     WHERE c.channel_id IS NOT NULL AND c.hour IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING 1
),
meters AS (
    INSERT INTO argo_rollup_meters (channel_id)
    SELECT DISTINCT channel_id FROM claimed WHERE channel_id IS NOT NULL AND hour IS NULL
    ON CONFLICT DO NOTHING
    RETURNING 1
)
SELECT (SELECT count(*) FROM claimed),
       (SELECT count(*) FROM hours),
       (SELECT count(*) FROM meters),
       EXISTS (SELECT 1 FROM claimed WHERE channel_id IS NULL);
