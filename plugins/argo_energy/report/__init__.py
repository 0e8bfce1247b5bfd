"""Weekly energy report per site: read-only queries on the views, figures, charts, HTML/CSV, delivery.

Modules, in the order data flows through them:

- ``week``: which site-local Monday-to-Sunday week a run covers (pure).
- ``config``: Variables and Params (business hours, recipients, base path), validated (pure).
- ``queries``: read-only snapshot transactions and the SELECTs of ``include/sql/report/``.
- ``figures``: every number of the report from the rows (pure).
- ``charts``: matplotlib (Agg) PNGs; ``render``: self-contained HTML, CSV, Slack and email text.
- ``delivery``: email (SMTP hook, attachments) and Slack webhook, each only when its connection exists.
- ``tasks``: the task bodies of ``dags/eniscope_weekly_report.py``; ``dag_tasks``: its task
  factories and wiring (the DAG file only calls ``wire_report``).
"""
