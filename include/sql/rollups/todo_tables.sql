-- The work list of one rollup refresh or rebuild (argo_energy.warehouse.rollups): meter-hours,
-- whole meters (every local day: the site's zone or the meter's site changed) and meter-days.
-- Temporary, dropped at the end of the refresh's transaction.
CREATE TEMP TABLE argo_rollup_hours (
    channel_id integer     NOT NULL,
    hour       timestamptz NOT NULL,
    PRIMARY KEY (channel_id, hour)
) ON COMMIT DROP;
CREATE TEMP TABLE argo_rollup_meters (
    channel_id integer NOT NULL PRIMARY KEY
) ON COMMIT DROP;
CREATE TEMP TABLE argo_rollup_days (
    channel_id integer NOT NULL,
    day        date    NOT NULL,
    zone       text    NOT NULL,
    PRIMARY KEY (channel_id, day)
) ON COMMIT DROP;
