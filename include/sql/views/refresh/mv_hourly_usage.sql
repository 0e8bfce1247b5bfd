-- Refresh mv_hourly_usage after ingestion (contract §6.2): REFRESH MATERIALIZED VIEW CONCURRENTLY
-- (readers are never blocked), or a plain REFRESH when the view is not populated yet, which
-- CONCURRENTLY refuses. Returns 'concurrent' or 'full'. argo_refresh_matview is defined by V003.
-- Kept outside views/ on purpose: it is not a definition and must not run as part of the build.
SELECT argo_refresh_matview('mv_hourly_usage') AS refresh;
