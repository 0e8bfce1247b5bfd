-- Indexes on the expected relations: name, table, uniqueness, validity and key columns in order.
SELECT i.relname                                   AS index_name,
       t.relname                                   AS table_name,
       x.indisunique                               AS is_unique,
       x.indisvalid                                AS is_valid,
       x.indpred IS NOT NULL                       AS is_partial,
       ARRAY(SELECT a.attname
               FROM unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
              ORDER BY k.ord)::text[]              AS columns
  FROM pg_index x
  JOIN pg_class i ON i.oid = x.indexrelid
  JOIN pg_class t ON t.oid = x.indrelid
 WHERE t.relnamespace = current_schema()::regnamespace
   AND t.relname = ANY(%(relations)s)
 ORDER BY t.relname, i.relname;
