-- Insert or update organisations (plugins/argo_energy/warehouse/catalog.py: upsert_organizations).
-- Parameters: seven text arrays (id, name, address, city, postcode, country, timezone), then the
-- contract's default zone. A NULL zone keeps the stored one (or the default for a new site).
-- updated_at moves only when a field changed; RETURNING (xmax = 0) tells inserts from updates.
WITH s AS (
    SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[])
        AS s (organization_id, organization_name, address, city, postcode, country, timezone)
)
INSERT INTO organizations AS t
    (organization_id, organization_name, address, city, postcode, country, timezone)
SELECT s.organization_id, s.organization_name, s.address, s.city, s.postcode, s.country,
       COALESCE(s.timezone, o.timezone, %s)
  FROM s LEFT JOIN organizations o ON o.organization_id = s.organization_id
 ORDER BY s.organization_id
ON CONFLICT (organization_id) DO UPDATE
   SET organization_name = EXCLUDED.organization_name, address = EXCLUDED.address,
       city = EXCLUDED.city, postcode = EXCLUDED.postcode, country = EXCLUDED.country,
       timezone = EXCLUDED.timezone, updated_at = CURRENT_TIMESTAMP
 WHERE (t.organization_name, t.address, t.city, t.postcode, t.country, t.timezone)
       IS DISTINCT FROM (EXCLUDED.organization_name, EXCLUDED.address, EXCLUDED.city,
                         EXCLUDED.postcode, EXCLUDED.country, EXCLUDED.timezone)
RETURNING (t.xmax = 0)
