-- V005: rebuilding a view keeps its grants.
--
-- CREATE OR REPLACE keeps a view's privileges, but a view that has to be dropped and created again
-- (the materialized view after a definition change, its dependents, a view whose columns changed)
-- comes back with none, and a read-only reporting role would silently lose access. Before such a
-- drop, argo_build_view (redefined here, otherwise unchanged from V003) now records the object's
-- grants to roles other than its owner in warehouse_view_grants, and re-grants them when the view
-- is created again, by this call or by the later file that recreates a dropped dependent.
-- (ALTER DEFAULT PRIVILEGES, if the roles setup uses it, covers new objects as well; both agree.)

CREATE TABLE IF NOT EXISTS warehouse_view_grants (
    view_name text NOT NULL,
    grantee   text NOT NULL,  -- a role name as GRANT takes it (quoted when needed), or PUBLIC
    privilege text NOT NULL,
    saved_at  timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT warehouse_view_grants_pkey PRIMARY KEY (view_name, grantee, privilege)
);

CREATE OR REPLACE FUNCTION argo_save_view_grants(p_name text) RETURNS integer
LANGUAGE plpgsql
AS $fn$
DECLARE
    v_saved integer;
BEGIN
    INSERT INTO warehouse_view_grants (view_name, grantee, privilege)
    SELECT c.relname,
           CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END,
           a.privilege_type
      FROM pg_class c
     CROSS JOIN LATERAL aclexplode(c.relacl) a
     WHERE c.relname = p_name
       AND c.relnamespace = current_schema()::regnamespace
       AND a.grantee <> c.relowner
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_saved = ROW_COUNT;
    RETURN v_saved;
END
$fn$;

COMMENT ON FUNCTION argo_save_view_grants(text) IS
    'Record the grants of a view about to be dropped, for argo_build_view to restore on re-creation.';

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
    v_grant    record;
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
                PERFORM argo_save_view_grants(v_dep.relname);
                EXECUTE format('DROP %s %I',
                               CASE v_dep.relkind WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END,
                               v_dep.relname);
                DELETE FROM warehouse_view_definitions WHERE view_name = v_dep.relname;
                RAISE NOTICE 'dropped dependent % (rebuilt by its own file)', v_dep.relname;
            END LOOP;
            PERFORM argo_save_view_grants(p_name);
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
        -- A new object has no grants: give back those its predecessor had (read-only roles, BI users).
        FOR v_grant IN
            DELETE FROM warehouse_view_grants WHERE view_name = p_name RETURNING grantee, privilege
        LOOP
            EXECUTE format('GRANT %s ON %I TO %s', v_grant.privilege, p_name, v_grant.grantee);
        END LOOP;
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
    'Create, replace or rebuild a managed view only when its definition hash changed (grants kept); returns what it did.';
