-- Was this report (site, ISO week) already delivered on this channel?
SELECT run_id, delivered_at, sends
  FROM report_deliveries
 WHERE site_id = %(site_id)s AND iso_week = %(iso_week)s AND channel = %(channel)s
