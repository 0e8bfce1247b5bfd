-- V011: power quality (issue 19). Every electrical field the meters report gets a column with an
-- honest name and unit; every existing column and row is kept.
--
-- readings / readings_rejected (API code -> column, unit):
--   S -> apparent_power_kva (kVA)   F -> frequency_hz (Hz)   D -> current_thd_pct (% current THD)
--   In -> neutral_current_a (A)     cost -> cost (the site's currency)
--   E1..3 -> energy_kwh_l1..3 (kWh)  P1..3 -> power_kw_l1..3 (kW)  V1..3 -> voltage_v_l1..3 (V, L-N)
--   I1..3 -> current_a_l1..3 (A)     PF1..3 -> power_factor_l1..3
-- readings columns are real like the contract's; readings_rejected's are double precision (V002:
-- an absurd value is kept as received).
--
-- A database adopted from the original system may have its per-phase columns power_w1..3 and
-- energy_wh1..3, which held kW and kWh despite their names (API.md §8). Each one present is
-- RENAMED to its honest column (values unchanged, nothing converted: they already are kW/kWh; views
-- built on the old column follow the rename) and turned into real if it was not; the old name then
-- comes back as a generated column that always equals the new one, so whatever read it keeps
-- working and the two can never be filled differently:
--   power_w1  -> power_kw_l1    power_w2  -> power_kw_l2    power_w3  -> power_kw_l3
--   energy_wh1 -> energy_kwh_l1 energy_wh2 -> energy_kwh_l2 energy_wh3 -> energy_kwh_l3
--
-- channels gains the field discovery cache: reading_fields (codes the device type reports, NULL
-- until discovered), fields_device_type (the deviceTypeId it was discovered for: rediscovered when
-- the channel's type changes) and fields_discovered_at.

DO $v011$
DECLARE
    v_pair   text[];
    v_type   text;
    v_moved  bigint;
BEGIN
    FOREACH v_pair SLICE 1 IN ARRAY ARRAY[
        ARRAY['power_w1', 'power_kw_l1'], ARRAY['power_w2', 'power_kw_l2'], ARRAY['power_w3', 'power_kw_l3'],
        ARRAY['energy_wh1', 'energy_kwh_l1'], ARRAY['energy_wh2', 'energy_kwh_l2'], ARRAY['energy_wh3', 'energy_kwh_l3']
    ] LOOP
        SELECT c.data_type INTO v_type
          FROM information_schema.columns c
         WHERE c.table_schema = current_schema() AND c.table_name = 'readings' AND c.column_name = v_pair[1];
        CONTINUE WHEN v_type IS NULL;
        IF EXISTS (SELECT 1 FROM information_schema.columns c
                    WHERE c.table_schema = current_schema() AND c.table_name = 'readings'
                      AND c.column_name = v_pair[2]) THEN
            RAISE EXCEPTION 'V011: readings has both % and %; merge them by hand first', v_pair[1], v_pair[2];
        END IF;
        EXECUTE format('ALTER TABLE readings RENAME COLUMN %I TO %I', v_pair[1], v_pair[2]);
        IF v_type <> 'real' THEN
            EXECUTE format('ALTER TABLE readings ALTER COLUMN %I TYPE real USING %I::real', v_pair[2], v_pair[2]);
        END IF;
        EXECUTE format('ALTER TABLE readings ADD COLUMN %I real GENERATED ALWAYS AS (%I) STORED',
                       v_pair[1], v_pair[2]);
        EXECUTE format('COMMENT ON COLUMN readings.%I IS %L', v_pair[1],
                       format('Legacy name (values in kW/kWh despite it): always equals %s (V011).', v_pair[2]));
        EXECUTE format('SELECT count(%I) FROM readings', v_pair[2]) INTO v_moved;
        RAISE NOTICE 'V011: readings.% renamed to % (% value(s), unconverted); % kept as its generated alias',
            v_pair[1], v_pair[2], v_moved, v_pair[1];
    END LOOP;
END
$v011$;

ALTER TABLE readings
    ADD COLUMN IF NOT EXISTS apparent_power_kva real,
    ADD COLUMN IF NOT EXISTS frequency_hz       real,
    ADD COLUMN IF NOT EXISTS current_thd_pct    real,
    ADD COLUMN IF NOT EXISTS neutral_current_a  real,
    ADD COLUMN IF NOT EXISTS cost               real,
    ADD COLUMN IF NOT EXISTS energy_kwh_l1      real,
    ADD COLUMN IF NOT EXISTS power_kw_l1        real,
    ADD COLUMN IF NOT EXISTS voltage_v_l1       real,
    ADD COLUMN IF NOT EXISTS current_a_l1       real,
    ADD COLUMN IF NOT EXISTS power_factor_l1    real,
    ADD COLUMN IF NOT EXISTS energy_kwh_l2      real,
    ADD COLUMN IF NOT EXISTS power_kw_l2        real,
    ADD COLUMN IF NOT EXISTS voltage_v_l2       real,
    ADD COLUMN IF NOT EXISTS current_a_l2       real,
    ADD COLUMN IF NOT EXISTS power_factor_l2    real,
    ADD COLUMN IF NOT EXISTS energy_kwh_l3      real,
    ADD COLUMN IF NOT EXISTS power_kw_l3        real,
    ADD COLUMN IF NOT EXISTS voltage_v_l3       real,
    ADD COLUMN IF NOT EXISTS current_a_l3       real,
    ADD COLUMN IF NOT EXISTS power_factor_l3    real;

ALTER TABLE readings_rejected
    ADD COLUMN IF NOT EXISTS apparent_power_kva double precision,
    ADD COLUMN IF NOT EXISTS frequency_hz       double precision,
    ADD COLUMN IF NOT EXISTS current_thd_pct    double precision,
    ADD COLUMN IF NOT EXISTS neutral_current_a  double precision,
    ADD COLUMN IF NOT EXISTS cost               double precision,
    ADD COLUMN IF NOT EXISTS energy_kwh_l1      double precision,
    ADD COLUMN IF NOT EXISTS power_kw_l1        double precision,
    ADD COLUMN IF NOT EXISTS voltage_v_l1       double precision,
    ADD COLUMN IF NOT EXISTS current_a_l1       double precision,
    ADD COLUMN IF NOT EXISTS power_factor_l1    double precision,
    ADD COLUMN IF NOT EXISTS energy_kwh_l2      double precision,
    ADD COLUMN IF NOT EXISTS power_kw_l2        double precision,
    ADD COLUMN IF NOT EXISTS voltage_v_l2       double precision,
    ADD COLUMN IF NOT EXISTS current_a_l2       double precision,
    ADD COLUMN IF NOT EXISTS power_factor_l2    double precision,
    ADD COLUMN IF NOT EXISTS energy_kwh_l3      double precision,
    ADD COLUMN IF NOT EXISTS power_kw_l3        double precision,
    ADD COLUMN IF NOT EXISTS voltage_v_l3       double precision,
    ADD COLUMN IF NOT EXISTS current_a_l3       double precision,
    ADD COLUMN IF NOT EXISTS power_factor_l3    double precision;

COMMENT ON COLUMN readings.apparent_power_kva IS 'S: apparent power, kVA (mean of the interval).';
COMMENT ON COLUMN readings.frequency_hz IS 'F: frequency, Hz.';
COMMENT ON COLUMN readings.current_thd_pct IS 'D: current total harmonic distortion, %.';
COMMENT ON COLUMN readings.neutral_current_a IS 'In: neutral current, A.';
COMMENT ON COLUMN readings.cost IS 'cost: the interval''s cost in the site''s currency (channels with a tariff).';

ALTER TABLE channels
    ADD COLUMN IF NOT EXISTS reading_fields       text[],
    ADD COLUMN IF NOT EXISTS fields_device_type   text,
    ADD COLUMN IF NOT EXISTS fields_discovered_at timestamptz;
COMMENT ON COLUMN channels.reading_fields IS
    'Eniscope field codes the channel''s device type reports (GET /fields/{deviceTypeId}); NULL: not discovered.';
