-- Which channels and site-local days broke the value ranges checked by the value_ranges task
-- (SQLColumnCheckOperator): negative energy or power, a power factor outside [-1, 1], and a
-- voltage outside [%(voltage_min)s, %(voltage_max)s] V while the channel draws power (an outage
-- reading 0 V at 0 kW is not a fault). Run only when that check failed.
WITH z AS (
    SELECT * FROM unnest(%(zone_channels)s::integer[], %(zones)s::text[]) AS z (channel_id, tz)
)
SELECT r.channel_id,
       (r."timestamp" AT TIME ZONE coalesce(z.tz, 'UTC'))::date                 AS local_date,
       count(*) FILTER (WHERE r.energy_kwh < 0)                                 AS negative_energy,
       count(*) FILTER (WHERE r.power_kw < 0)                                   AS negative_power,
       count(*) FILTER (WHERE r.power_factor < -1 OR r.power_factor > 1)        AS power_factor_out_of_range,
       count(*) FILTER (WHERE r.power_kw > 0
                          AND (r.voltage_v < %(voltage_min)s::float8
                               OR r.voltage_v > %(voltage_max)s::float8))       AS voltage_out_of_band
  FROM readings r
  LEFT JOIN z ON z.channel_id = r.channel_id
 WHERE r."timestamp" >= %(start)s::timestamptz AND r."timestamp" < %(end)s::timestamptz
   AND (r.energy_kwh < 0 OR r.power_kw < 0 OR r.power_factor < -1 OR r.power_factor > 1
        OR (r.power_kw > 0 AND (r.voltage_v < %(voltage_min)s::float8 OR r.voltage_v > %(voltage_max)s::float8)))
 GROUP BY r.channel_id, 2
 ORDER BY r.channel_id, 2;
