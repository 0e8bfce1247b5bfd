-- V013: operability bookkeeping (issue 17).
--
-- report_deliveries: one row per report delivered (site, ISO week, channel: email or slack). The
--   weekly report's email and Slack tasks look here first, so that a retry or a cleared task does
--   not send a report that was already delivered; the run param `resend` sends it again (and
--   updates the row). The row is written right after the send succeeded: a crash between the two
--   can repeat one delivery (at least once), never lose one.
-- pipeline_task_failures: one row per task instance that failed on its last try (its first error
--   line), written by the task's failure callback. The DAG-level failure callback reads the run's
--   rows to send ONE alert per failed run naming every failed task, mapped batch and the first
--   error. Rows are small; delete old ones at will (nothing depends on them after the alert).

CREATE TABLE report_deliveries (
    site_id       text        NOT NULL,
    iso_week      text        NOT NULL,
    channel       text        NOT NULL CHECK (channel IN ('email', 'slack')),
    dag_id        text        NOT NULL,
    run_id        text        NOT NULL,
    recipients    integer,
    detail        text,
    delivered_at  timestamptz NOT NULL DEFAULT now(),
    sends         integer     NOT NULL DEFAULT 1,
    PRIMARY KEY (site_id, iso_week, channel)
);

COMMENT ON TABLE report_deliveries IS
    'Weekly reports delivered, per site, ISO week and channel; a retry skips a delivered report unless the run asks to resend.';

CREATE TABLE pipeline_task_failures (
    dag_id        text        NOT NULL,
    run_id        text        NOT NULL,
    task_id       text        NOT NULL,
    map_index     integer     NOT NULL DEFAULT -1,
    map_label     text,
    try_number    integer,
    error         text        NOT NULL,
    failed_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dag_id, run_id, task_id, map_index)
);

COMMENT ON TABLE pipeline_task_failures IS
    'Task instances that failed on their last try, with their first error line; read by the one-alert-per-run callback.';
