-- Received and rejected 15-minute slots per (channel, site-local day). The days and their UTC
-- bounds come from Python (argo_energy.validation.days, DST-aware), one array element per day.
-- received counts distinct slots (date_bin to the 15-minute UTC grid), so an off-grid duplicate
-- of a legacy row does not make a day look complete. Only readings with a value count: a row whose
-- energy and power are both NULL was delivered but measured nothing (a meter sending only nulls
-- must not look complete). Each count is an index range scan.
SELECT w.idx,
       (SELECT count(DISTINCT date_bin('15 minutes', r."timestamp", TIMESTAMPTZ '2000-01-01 00:00:00+00'))
          FROM readings r
         WHERE r.channel_id = w.channel_id
           AND r."timestamp" >= w.day_start AND r."timestamp" < w.day_end
           AND (r.energy_kwh IS NOT NULL OR r.power_kw IS NOT NULL))             AS received,
       (SELECT count(DISTINCT x."timestamp")
          FROM readings_rejected x
         WHERE x.channel_id = w.channel_id
           AND x."timestamp" >= w.day_start AND x."timestamp" < w.day_end
           AND NOT EXISTS (SELECT 1 FROM readings r
                            WHERE r.channel_id = x.channel_id AND r."timestamp" = x."timestamp")) AS rejected
  FROM unnest(%(idx)s::integer[], %(channel_ids)s::integer[],
              %(starts)s::timestamptz[], %(ends)s::timestamptz[]) AS w (idx, channel_id, day_start, day_end)
 ORDER BY w.idx;
