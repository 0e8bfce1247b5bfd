-- Layer 3 (contract §4.3): v_sites, organizations under business names.
-- timezone is the site's IANA zone: it decides what a day and a month are in v_readings_daily and
-- v_readings_monthly (NULL there means the contract default, America/New_York).
SELECT argo_build_view(
    'view',
    'v_sites',
    $view$
SELECT o.organization_id   AS site_id,
       o.organization_name AS site_name,
       o.address,
       o.city,
       o.postcode,
       o.country,
       o.timezone,
       o.created_at,
       o.updated_at
  FROM organizations o
$view$,
    ARRAY[]::text[],
    'Layer 3: sites (organizations) under business names; timezone decides the site''s calendar.'
) AS action;
