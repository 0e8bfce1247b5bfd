-- Record the catalog records a metadata sync quarantined (plugins/argo_energy/warehouse/catalog.py:
-- record_quarantine). Parameters: six text arrays (kind, record_id, organization_id, reason, detail,
-- record), then the sync's time. A row seen again is refreshed and reopened (resolved_at NULL);
-- first_seen_at keeps the first sighting. RETURNING (xmax = 0) tells new rows from known ones.
INSERT INTO catalog_quarantine AS t
    (kind, record_id, organization_id, reason, detail, record, first_seen_at, last_seen_at, resolved_at)
SELECT s.kind, s.record_id, s.organization_id, s.reason, s.detail, s.record, %s, %s, NULL
  FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[])
       AS s (kind, record_id, organization_id, reason, detail, record)
 ORDER BY s.kind, s.record_id
ON CONFLICT (kind, record_id) DO UPDATE
   SET organization_id = EXCLUDED.organization_id, reason = EXCLUDED.reason, detail = EXCLUDED.detail,
       record = EXCLUDED.record, last_seen_at = EXCLUDED.last_seen_at, resolved_at = NULL
RETURNING (t.xmax = 0)
