-- Record a delivery (a resend updates the row and counts it).
INSERT INTO report_deliveries (site_id, iso_week, channel, dag_id, run_id, recipients, detail)
VALUES (%(site_id)s, %(iso_week)s, %(channel)s, %(dag_id)s, %(run_id)s, %(recipients)s, %(detail)s)
ON CONFLICT (site_id, iso_week, channel) DO UPDATE
   SET dag_id = EXCLUDED.dag_id, run_id = EXCLUDED.run_id, recipients = EXCLUDED.recipients,
       detail = EXCLUDED.detail, delivered_at = now(), sends = report_deliveries.sends + 1
