-- V004: the seed's TIMESTAMPTZ migration (neon-database-breakdown.md §5.2, migrate-to-timestamptz.sql):
-- every naive `timestamp` column of the contract tables becomes `timestamptz`, the existing naive
-- values read as America/New_York wall-clock time.
--
-- A fresh database (V001 creates timestamptz columns) or one the seed already migrated has no
-- naive column left and this is a no-op. Only the six contract tables of the current schema are
-- looked at; other schemas (neon_auth, ...) and other tables (playing_with_neon) are not touched.
--
-- PostgreSQL's reading of wall-clock times that are not one instant, which this migration keeps:
-- * ambiguous (the repeated hour when DST ends, e.g. 2024-11-03 01:15) -> standard time (EST,
--   the later instant);
-- * nonexistent (the skipped hour when DST starts, e.g. 2024-03-10 02:15) -> the offset in force
--   before the change (EST), i.e. 07:15Z, the same instant as 03:15 EDT.
-- A reading at a nonexistent time therefore lands on the instant of the reading one hour later
-- on the same channel when that one exists too, and the unique index (channel_id, timestamp)
-- would abort the whole conversion. Such a reading is not dropped: it is moved, with all its
-- values and a reason naming the original wall-clock time, into readings_rejected
-- (source = 'adoption'), before the conversion. Every other row keeps its id and values.
--
-- The seed's views depend on these columns; V003 released them already (build_views recreates
-- them). ALTER ... TYPE rewrites each table once (all its columns in one statement) under an
-- ACCESS EXCLUSIVE lock: on the 3.5M-row readings table this takes seconds to a minute, once.

DO $tz$
DECLARE
    v_table   text;
    v_columns text;
    v_moved   bigint;
BEGIN
    IF EXISTS (
        SELECT 1 FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = 'readings'
           AND column_name = 'timestamp' AND data_type = 'timestamp without time zone'
    ) THEN
        WITH moved AS (
            DELETE FROM readings g
             WHERE ((g."timestamp" AT TIME ZONE 'America/New_York') AT TIME ZONE 'America/New_York')
                   <> g."timestamp"
               AND EXISTS (
                   SELECT 1 FROM readings o
                    WHERE o.channel_id = g.channel_id
                      AND o."timestamp" = (g."timestamp" AT TIME ZONE 'America/New_York')
                                          AT TIME ZONE 'America/New_York'
               )
            RETURNING g.*
        )
        INSERT INTO readings_rejected (
            channel_id, "timestamp", energy_kwh, power_kw, voltage_v, current_a, power_factor,
            reactive_power_kvar, temperature_c, relative_humidity, reason, source
        )
        SELECT channel_id, "timestamp" AT TIME ZONE 'America/New_York', energy_kwh, power_kw,
               voltage_v, current_a, power_factor, reactive_power_kvar, temperature_c,
               relative_humidity,
               format('legacy reading id %s at naive %s: that wall-clock time does not exist in '
                      'America/New_York (DST gap) and reads as the same instant as the reading at %s '
                      'on this channel; moved here by the TIMESTAMPTZ migration (V004)',
                      id, "timestamp",
                      ("timestamp" AT TIME ZONE 'America/New_York') AT TIME ZONE 'America/New_York'),
               'adoption'
          FROM moved;
        GET DIAGNOSTICS v_moved = ROW_COUNT;
        RAISE NOTICE 'V004: % reading(s) at nonexistent New York times moved to readings_rejected', v_moved;
    END IF;

    FOR v_table, v_columns IN
        SELECT c.table_name,
               string_agg(format('ALTER COLUMN %I TYPE timestamptz USING %I AT TIME ZONE %L',
                                 c.column_name, c.column_name, 'America/New_York'),
                          ', ' ORDER BY c.ordinal_position)
          FROM information_schema.columns c
         WHERE c.table_schema = current_schema()
           AND c.table_name IN ('organizations', 'devices', 'channels', 'readings',
                                'data_sync_status', 'ingestion_logs')
           AND c.data_type = 'timestamp without time zone'
         GROUP BY c.table_name
         ORDER BY c.table_name
    LOOP
        RAISE NOTICE 'V004: % -> timestamptz (%)', v_table, v_columns;
        EXECUTE format('ALTER TABLE %I %s', v_table, v_columns);
    END LOOP;
END
$tz$;
