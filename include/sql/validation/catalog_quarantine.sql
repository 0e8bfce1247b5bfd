-- Catalog records the metadata sync quarantined and that are not resolved yet (V014), oldest first.
-- Organisations first: a quarantined site's channels are quarantined with it.
SELECT kind, record_id, organization_id, reason, detail, first_seen_at, last_seen_at
  FROM catalog_quarantine
 WHERE resolved_at IS NULL
 ORDER BY CASE kind WHEN 'organization' THEN 0 WHEN 'device' THEN 1 ELSE 2 END, first_seen_at, record_id
