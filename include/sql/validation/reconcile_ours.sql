-- Our energy per (channel, site-local day) for the reconciliation with Eniscope's daily totals.
-- Days and their UTC bounds come from Python (argo_energy.validation.days, DST-aware), one array
-- element per day. kwh is NULL when no reading of the day carries energy (a missing value is not
-- 0); readings counts those that do. Each sum is an index range scan of idx_readings_unique.
SELECT w.idx,
       (SELECT sum(r.energy_kwh::double precision)
          FROM readings r
         WHERE r.channel_id = w.channel_id
           AND r."timestamp" >= w.day_start AND r."timestamp" < w.day_end)       AS kwh,
       (SELECT count(r.energy_kwh)
          FROM readings r
         WHERE r.channel_id = w.channel_id
           AND r."timestamp" >= w.day_start AND r."timestamp" < w.day_end)       AS readings
  FROM unnest(%(idx)s::integer[], %(channel_ids)s::integer[],
              %(starts)s::timestamptz[], %(ends)s::timestamptz[]) AS w (idx, channel_id, day_start, day_end)
 ORDER BY w.idx;
