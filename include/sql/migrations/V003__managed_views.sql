-- V003: the layered views (§4) become managed objects with a recorded definition hash.
--
-- * warehouse_view_definitions: one row per managed view: its kind, the sha256 of its definition
--   and the definition itself, and when it was built.
-- * argo_build_view(kind, name, definition, post_statements, comment): what every file in
--   include/sql/views/ calls. When the recorded hash matches and the object exists it does
--   nothing at all (no lock is taken on the view, so a routine run never waits for or blocks a
--   reader). Otherwise a plain view is CREATE OR REPLACEd; a materialized view is dropped and
--   created WITH DATA (populated at once, readers never see an unpopulated view). When a change
--   cannot be made in place (a view's columns changed, or a materialized view is rebuilt), the
--   managed views that depend on it are dropped first and their records deleted, so the later
--   files (numbered in dependency order) recreate them in the same build. A dependent that is not
--   managed stops the build with an error naming it: nothing of anyone else's is dropped.
-- * argo_refresh_matview(name): REFRESH ... CONCURRENTLY, or a plain REFRESH when the view is not
--   populated yet (CONCURRENTLY refuses that case).
-- * The seed's own view objects (unmanaged, built by create-layered-views.sql) are dropped here
--   once, so build_views replaces them with the managed definitions. On a fresh database they do
--   not exist and this is a no-op. No CASCADE: an unknown dependent stops the migration.

CREATE TABLE IF NOT EXISTS warehouse_view_definitions (
    view_name       text        NOT NULL,
    kind            text        NOT NULL,
    definition_hash text        NOT NULL,
    definition      text        NOT NULL,
    built_at        timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT warehouse_view_definitions_pkey PRIMARY KEY (view_name),
    CONSTRAINT warehouse_view_definitions_kind_check CHECK (kind IN ('view', 'materialized view'))
);

CREATE OR REPLACE FUNCTION argo_build_view(
    p_kind       text,
    p_name       text,
    p_definition text,
    p_post       text[] DEFAULT '{}',
    p_comment    text DEFAULT NULL
) RETURNS text
LANGUAGE plpgsql
AS $fn$
DECLARE
    v_hash     text := encode(sha256(convert_to(
                   concat_ws(E'\n--\n', p_kind, p_name, p_definition,
                             array_to_string(p_post, E'\n'), p_comment), 'UTF8')), 'hex');
    v_recorded text;
    v_oid      oid;
    v_relkind  "char";
    v_action   text;
    v_stmt     text;
    v_dep      record;
BEGIN
    IF p_kind NOT IN ('view', 'materialized view') THEN
        RAISE EXCEPTION 'argo_build_view: kind must be ''view'' or ''materialized view'', got %', p_kind;
    END IF;
    -- One builder at a time (two DAG runs, or a run and a person at the CLI).
    PERFORM pg_advisory_xact_lock(842002, 0);

    SELECT c.oid, c.relkind INTO v_oid, v_relkind
      FROM pg_class c
     WHERE c.relname = p_name AND c.relnamespace = current_schema()::regnamespace;
    SELECT definition_hash INTO v_recorded FROM warehouse_view_definitions WHERE view_name = p_name;

    IF v_oid IS NOT NULL AND v_relkind NOT IN ('v', 'm') THEN
        RAISE EXCEPTION '% exists and is not a view (relkind %): refusing to replace it', p_name, v_relkind;
    END IF;
    IF v_oid IS NOT NULL AND v_relkind = (CASE p_kind WHEN 'view' THEN 'v' ELSE 'm' END)::"char"
       AND v_recorded = v_hash THEN
        RETURN 'unchanged';
    END IF;

    IF p_kind = 'view' AND v_oid IS NOT NULL AND v_relkind = 'v' THEN
        BEGIN
            EXECUTE format('CREATE OR REPLACE VIEW %I AS %s', p_name, p_definition);
            v_action := 'replaced';
        EXCEPTION WHEN invalid_table_definition THEN
            -- Columns renamed, removed or retyped: CREATE OR REPLACE cannot do it; rebuild below.
            v_action := NULL;
        END;
    END IF;

    IF v_action IS NULL THEN
        IF v_oid IS NOT NULL THEN
            -- Drop the managed dependents first (deepest first); refuse unmanaged ones.
            FOR v_dep IN
                WITH RECURSIVE deps (oid, depth) AS (
                    SELECT rw.ev_class, 1
                      FROM pg_depend d
                      JOIN pg_rewrite rw ON rw.oid = d.objid
                     WHERE d.classid = 'pg_rewrite'::regclass
                       AND d.refclassid = 'pg_class'::regclass
                       AND d.refobjid = v_oid
                       AND rw.ev_class <> v_oid
                    UNION ALL
                    SELECT rw.ev_class, deps.depth + 1
                      FROM deps
                      JOIN pg_depend d ON d.refobjid = deps.oid
                                      AND d.classid = 'pg_rewrite'::regclass
                                      AND d.refclassid = 'pg_class'::regclass
                      JOIN pg_rewrite rw ON rw.oid = d.objid
                     WHERE rw.ev_class <> deps.oid
                )
                SELECT c.relname, c.relkind, max(deps.depth) AS depth,
                       EXISTS (SELECT 1 FROM warehouse_view_definitions w
                                WHERE w.view_name = c.relname
                                  AND c.relnamespace = current_schema()::regnamespace) AS managed
                  FROM deps JOIN pg_class c ON c.oid = deps.oid
                 GROUP BY c.oid, c.relname, c.relkind, c.relnamespace
                 ORDER BY max(deps.depth) DESC, c.relname
            LOOP
                IF NOT v_dep.managed THEN
                    RAISE EXCEPTION 'cannot rebuild %: % depends on it and is not managed by build_views',
                        p_name, v_dep.relname
                        USING HINT = 'Drop or change that object yourself, then rerun the view build.';
                END IF;
                EXECUTE format('DROP %s %I',
                               CASE v_dep.relkind WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END,
                               v_dep.relname);
                DELETE FROM warehouse_view_definitions WHERE view_name = v_dep.relname;
                RAISE NOTICE 'dropped dependent % (rebuilt by its own file)', v_dep.relname;
            END LOOP;
            EXECUTE format('DROP %s %I',
                           CASE v_relkind WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END, p_name);
            v_action := CASE WHEN p_kind = 'view' THEN 'recreated' ELSE 'rebuilt' END;
        ELSE
            v_action := 'created';
        END IF;

        IF p_kind = 'view' THEN
            EXECUTE format('CREATE VIEW %I AS %s', p_name, p_definition);
        ELSE
            EXECUTE format('CREATE MATERIALIZED VIEW %I AS %s WITH DATA', p_name, p_definition);
        END IF;
    END IF;

    FOREACH v_stmt IN ARRAY p_post LOOP
        EXECUTE v_stmt;
    END LOOP;
    IF p_comment IS NOT NULL THEN
        EXECUTE format('COMMENT ON %s %I IS %L', upper(p_kind), p_name, p_comment);
    END IF;

    INSERT INTO warehouse_view_definitions AS w (view_name, kind, definition_hash, definition, built_at)
    VALUES (p_name, p_kind, v_hash, p_definition, CURRENT_TIMESTAMP)
    ON CONFLICT (view_name) DO UPDATE
       SET kind = EXCLUDED.kind, definition_hash = EXCLUDED.definition_hash,
           definition = EXCLUDED.definition, built_at = EXCLUDED.built_at;
    RETURN v_action;
END
$fn$;

COMMENT ON FUNCTION argo_build_view(text, text, text, text[], text) IS
    'Create, replace or rebuild a managed view only when its definition hash changed; returns what it did.';

CREATE OR REPLACE FUNCTION argo_refresh_matview(p_name text) RETURNS text
LANGUAGE plpgsql
AS $fn$
DECLARE
    v_populated boolean;
BEGIN
    SELECT c.relispopulated INTO v_populated
      FROM pg_class c
     WHERE c.relname = p_name AND c.relkind = 'm'
       AND c.relnamespace = current_schema()::regnamespace;
    IF v_populated IS NULL THEN
        RAISE EXCEPTION 'materialized view % does not exist', p_name
            USING HINT = 'Build the views first (python -m argo_energy.warehouse build-views).';
    END IF;
    IF v_populated THEN
        EXECUTE format('REFRESH MATERIALIZED VIEW CONCURRENTLY %I', p_name);
        RETURN 'concurrent';
    END IF;
    EXECUTE format('REFRESH MATERIALIZED VIEW %I', p_name);
    RETURN 'full';
END
$fn$;

COMMENT ON FUNCTION argo_refresh_matview(text) IS
    'REFRESH MATERIALIZED VIEW CONCURRENTLY, or a plain refresh when not yet populated; returns which.';

-- Release the seed's view objects (reverse dependency order, no CASCADE).
DO $legacy$
DECLARE
    v_name    text;
    v_relkind "char";
BEGIN
    FOREACH v_name IN ARRAY ARRAY[
        'v_readings_monthly', 'v_readings_daily', 'v_readings_hourly', 'v_latest_readings',
        'v_readings_enriched', 'v_meters', 'v_sites', 'mv_hourly_usage', 'v_clean_readings'
    ] LOOP
        SELECT c.relkind INTO v_relkind
          FROM pg_class c
         WHERE c.relname = v_name AND c.relnamespace = current_schema()::regnamespace;
        CONTINUE WHEN NOT FOUND;
        IF v_relkind = 'v' THEN
            EXECUTE format('DROP VIEW %I', v_name);
        ELSIF v_relkind = 'm' THEN
            EXECUTE format('DROP MATERIALIZED VIEW %I', v_name);
        ELSE
            RAISE EXCEPTION '% exists and is not a view (relkind %)', v_name, v_relkind
                USING HINT = 'The contract (§4) reserves this name for a view; rename that object.';
        END IF;
        RAISE NOTICE 'released legacy view % (build_views recreates it)', v_name;
    END LOOP;
END
$legacy$;
