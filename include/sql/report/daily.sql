-- Daily figures per meter and site-local day (v_readings_daily) for the local days
-- first_day..last_day (inclusive). A meter-day without any clean reading has no row: the report keeps
-- it as NULL kWh and 0 readings, never 0 kWh.
SELECT d.meter_id,
       d.reading_date,
       d.total_energy_kwh,
       d.peak_power_kw,
       d.reading_count,
       d.expected_readings
  FROM v_readings_daily d
 WHERE d.site_id = %(site_id)s
   AND d.reading_date BETWEEN %(first_day)s AND %(last_day)s
 ORDER BY d.reading_date, d.meter_id;
