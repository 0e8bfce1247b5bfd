-- Close the open quarantine rows of records a metadata sync saw healthy (catalog.py: record_quarantine).
-- Parameters: the sync's time, then two text arrays (kind, record_id) of the healthy records.
UPDATE catalog_quarantine AS t
   SET resolved_at = %s
  FROM unnest(%s::text[], %s::text[]) AS h (kind, record_id)
 WHERE t.kind = h.kind AND t.record_id = h.record_id AND t.resolved_at IS NULL
RETURNING t.kind, t.record_id
