-- Per channel: readings stored within its range, and its newest reading at all
-- (plugins/argo_energy/warehouse/reads.py: readings_facts).
-- Parameters: three parallel arrays (channel ids, range starts, range ends).
SELECT u.channel_id,
       (SELECT count(*) FROM readings r
         WHERE r.channel_id = u.channel_id AND r."timestamp" >= u.start_at AND r."timestamp" < u.end_at),
       (SELECT max(r."timestamp") FROM readings r WHERE r.channel_id = u.channel_id)
  FROM unnest(%(channel_ids)s::integer[], %(starts)s::timestamptz[], %(ends)s::timestamptz[])
       AS u (channel_id, start_at, end_at)
