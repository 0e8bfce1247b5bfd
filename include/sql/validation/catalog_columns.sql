-- Columns of the expected relations in the current schema (tables, views and materialized views;
-- information_schema does not list materialized views, pg_catalog does).
SELECT c.relname                                   AS relation,
       CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view'
                      WHEN 'm' THEN 'materialized view' ELSE c.relkind::text END AS kind,
       a.attname                                   AS column_name,
       format_type(a.atttypid, a.atttypmod)        AS column_type
  FROM pg_class c
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relnamespace = current_schema()::regnamespace
   AND c.relname = ANY(%(relations)s)
 ORDER BY c.relname, a.attnum;
