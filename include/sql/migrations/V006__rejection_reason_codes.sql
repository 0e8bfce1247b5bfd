-- V006: a rejected reading is keyed on its reason *codes*; the human detail moves to its own column.
--
-- Until now readings_rejected.reason held text like
--     'negative_power: power_kw=-3.2; power_factor_out_of_range: power_factor=1.7'
-- and the unique key (channel_id, "timestamp", reason) therefore changed whenever the detail did:
-- a revised bad value, a later run's "now" (future_timestamp) or a longer window (outside_window)
-- stored the same rejected reading again instead of refreshing it. From now on:
--   reason = the stable codes, in check order, joined by '; '   ('negative_power; power_factor_out_of_range')
--   detail = the text that explains them                        (what reason used to be)
-- so a rerun refreshes the row (values, window, detail, last_seen_at) and the table holds one row
-- per rejected reading and set of reasons. Rows V004 moved here (source 'adoption') are left as
-- they are: each is one legacy row, written once, and its reason already names it.
--
-- Existing ingestion rows are converted in place; where several collapse onto one key the most
-- recently seen one is kept (it carries the latest values) and its first sighting is preserved.

ALTER TABLE readings_rejected ADD COLUMN IF NOT EXISTS detail text;

DO $v006$
DECLARE
    v_merged    integer;
    v_converted integer;
BEGIN
    CREATE TEMP TABLE v006_codes ON COMMIT DROP AS
    SELECT r.id,
           r.channel_id,
           r."timestamp",
           (SELECT string_agg(btrim(split_part(part, ':', 1)), '; ' ORDER BY n)
              FROM regexp_split_to_table(r.reason, '; ') WITH ORDINALITY AS p (part, n)) AS codes,
           r.created_at,
           r.last_seen_at
      FROM readings_rejected r
     WHERE r.source = 'ingestion'
       AND r.reason LIKE '%:%';

    -- Keep the latest sighting of each (channel, timestamp, codes); remember the earliest created_at.
    WITH ranked AS (
        SELECT id,
               row_number() OVER w AS rank,
               min(created_at) OVER (PARTITION BY channel_id, "timestamp", codes) AS first_seen
          FROM v006_codes
        WINDOW w AS (PARTITION BY channel_id, "timestamp", codes ORDER BY last_seen_at DESC, id DESC)
    ), dropped AS (
        DELETE FROM readings_rejected r
         USING ranked k
         WHERE r.id = k.id AND k.rank > 1
        RETURNING r.id
    ), kept AS (
        UPDATE v006_codes c
           SET created_at = k.first_seen
          FROM ranked k
         WHERE c.id = k.id AND k.rank = 1
    )
    SELECT count(*) INTO v_merged FROM dropped;

    -- A row already in the new form could hold the key a converted row wants: keep the newer one.
    DELETE FROM readings_rejected r
     USING v006_codes c
     WHERE r.channel_id = c.channel_id AND r."timestamp" = c."timestamp" AND r.reason = c.codes
       AND r.id <> c.id;

    UPDATE readings_rejected r
       SET detail = r.reason,
           reason = c.codes,
           created_at = c.created_at
      FROM v006_codes c
     WHERE r.id = c.id;
    GET DIAGNOSTICS v_converted = ROW_COUNT;

    RAISE NOTICE 'V006: % rejected reading(s) keyed on reason codes, % repeated sighting(s) merged',
        v_converted, v_merged;
END
$v006$;

COMMENT ON COLUMN readings_rejected.reason IS
    'Stable reason codes in check order joined by ''; '' (see argo_energy.ingest.validation); part of the unique key';
COMMENT ON COLUMN readings_rejected.detail IS
    'Human explanation of the codes (values, bounds, the run''s now); refreshed on every sighting';
