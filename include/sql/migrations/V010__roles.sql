-- V010: three roles with least privilege, grants built from a whitelist, and V005's re-grant fixed.
--
-- Roles (cluster-wide; this migration never creates one, include/sql/roles/roles.sql does, run by
-- someone allowed to: see docs/WAREHOUSE.md "Roles"):
-- * owner    - whoever applies the migrations and builds the views: owns every object here. Gets no
--              grants (an owner has every privilege on what it owns).
-- * writer   - the ingestion and validation DAGs (connection energy_db): SELECT/INSERT/UPDATE (and
--              DELETE where a feature deletes) on the tables listed in warehouse_role_privileges,
--              USAGE on their id sequences, SELECT on the managed views, EXECUTE on
--              argo_refresh_matview (SECURITY DEFINER: REFRESH needs the owner) and
--              argo_local_to_utc (the views call it). No CREATE, no TRUNCATE, no DDL.
-- * readonly - the weekly report (connection energy_db_readonly): SELECT on the managed views and
--              on validation_results only (not on readings or any other raw table), EXECUTE on
--              argo_local_to_utc. Its statement_timeout and read-only default are role settings,
--              set by roles.sql (role settings belong to the login, not to a grant).
--
-- * warehouse_roles: which role plays which part (seeded with the compose names argo_writer and
--   argo_readonly; roles.sql registers others). A registered role that does not exist is skipped.
-- * warehouse_role_privileges: the whitelist. Privileges are keywords checked against a fixed list
--   (constraint and function), object names go into GRANT as %I, functions as regprocedure (the
--   server's own rendering of an existing function). A later migration that adds a table a role
--   must use inserts its row here and runs SELECT argo_apply_role_grants().
-- * argo_apply_role_grants(): converges every registered writer/readonly role to the whitelist
--   (revokes what it had in this schema, then grants), revokes EXECUTE from PUBLIC on every
--   function of the schema the applying role owns (argo_*, eniscope_budget_take). Idempotent;
--   owner only. Also run by roles.sql after creating roles.
-- * argo_build_view (V005's, otherwise unchanged): a saved grant is restored only when its
--   privilege is a table privilege keyword and its grantee PUBLIC or an existing role, as %I:
--   V005 pasted both into `GRANT %s ON %I TO %s`, so a row planted in warehouse_view_grants ran any
--   statement as the next view builder (the owner). New views get SELECT for the registered
--   writer and readonly roles.
-- * New functions of the migrating role are no longer executable by PUBLIC by default.

CREATE TABLE IF NOT EXISTS warehouse_roles (
    role_name     text        NOT NULL,
    purpose       text        NOT NULL,
    registered_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT warehouse_roles_pkey PRIMARY KEY (role_name),
    CONSTRAINT warehouse_roles_purpose_check CHECK (purpose IN ('owner', 'writer', 'readonly')),
    CONSTRAINT warehouse_roles_name_check CHECK (lower(role_name) <> 'public' AND role_name NOT LIKE 'pg\_%')
);

CREATE TABLE IF NOT EXISTS warehouse_role_privileges (
    purpose     text   NOT NULL,
    object_kind text   NOT NULL,
    object_name text   NOT NULL,  -- a table name, or a function signature as to_regprocedure reads it
    privileges  text[] NOT NULL,
    CONSTRAINT warehouse_role_privileges_pkey PRIMARY KEY (purpose, object_kind, object_name),
    CONSTRAINT warehouse_role_privileges_purpose_check CHECK (purpose IN ('writer', 'readonly')),
    CONSTRAINT warehouse_role_privileges_whitelist CHECK (
        cardinality(privileges) > 0 AND (
            (object_kind = 'table' AND privileges <@ ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE'])
         OR (object_kind = 'function' AND privileges = ARRAY['EXECUTE'])))
);

INSERT INTO warehouse_roles (role_name, purpose) VALUES
    ('argo_writer', 'writer'),
    ('argo_readonly', 'readonly')
ON CONFLICT (role_name) DO NOTHING;

-- Every table a DAG writes (warehouse/store.py, include/sql/ingest, validation/store.py, the V008
-- request budget of eniscope/budget.py) and what
-- it does to it; schema_migrations and warehouse_view_definitions readable so that a no-op
-- migration check does not need the owner. warehouse_view_grants and warehouse_role*: owner only.
INSERT INTO warehouse_role_privileges (purpose, object_kind, object_name, privileges) VALUES
    ('writer', 'table', 'organizations',            ARRAY['SELECT', 'INSERT', 'UPDATE']),
    ('writer', 'table', 'devices',                  ARRAY['SELECT', 'INSERT', 'UPDATE']),
    ('writer', 'table', 'channels',                 ARRAY['SELECT', 'INSERT', 'UPDATE']),
    ('writer', 'table', 'readings',                 ARRAY['SELECT', 'INSERT', 'UPDATE']),
    ('writer', 'table', 'readings_rejected',        ARRAY['SELECT', 'INSERT', 'UPDATE']),
    ('writer', 'table', 'ingestion_logs',           ARRAY['SELECT', 'INSERT', 'UPDATE']),
    ('writer', 'table', 'data_sync_status',         ARRAY['SELECT', 'INSERT', 'UPDATE']),
    ('writer', 'table', 'validation_results',       ARRAY['SELECT', 'INSERT', 'UPDATE']),
    ('writer', 'table', 'validation_heal_requests', ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']),
    ('writer', 'table', 'eniscope_request_budget',  ARRAY['SELECT', 'INSERT', 'UPDATE']),
    -- Rollups (V009: the readings triggers queue changes, the refresh rewrites the aggregates) and
    -- reconciliation (V012). A table created by a later migration is granted when that migration
    -- (as V014 does) or roles.sql runs SELECT argo_apply_role_grants().
    ('writer', 'table', 'rollup_queue',             ARRAY['SELECT', 'INSERT', 'DELETE']),
    ('writer', 'table', 'rollup_daily_usage',       ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']),
    ('writer', 'table', 'mv_hourly_usage',          ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']),
    ('writer', 'table', 'reconciliation_days',      ARRAY['SELECT', 'INSERT', 'UPDATE']),
    -- Operability (V013): the report's delivery records and the tasks' failure records.
    ('writer', 'table', 'report_deliveries',        ARRAY['SELECT', 'INSERT', 'UPDATE']),
    ('writer', 'table', 'pipeline_task_failures',   ARRAY['SELECT', 'INSERT', 'UPDATE']),
    ('writer', 'table', 'schema_migrations',        ARRAY['SELECT']),
    ('writer', 'table', 'warehouse_view_definitions', ARRAY['SELECT']),
    ('writer', 'function', 'argo_refresh_matview(text)', ARRAY['EXECUTE']),
    ('writer', 'function', 'argo_local_to_utc(timestamp without time zone, text)', ARRAY['EXECUTE']),
    ('writer', 'function', 'eniscope_budget_take(text, double precision, double precision, double precision, double precision)',
     ARRAY['EXECUTE']),
    -- The report's validation flags (include/sql/report/validation_flags.sql): results, not readings.
    ('readonly', 'table', 'validation_results',     ARRAY['SELECT']),
    ('readonly', 'table', 'mv_hourly_usage',        ARRAY['SELECT']),  -- contract §4.2 name, a table after V009
    ('readonly', 'function', 'argo_local_to_utc(timestamp without time zone, text)', ARRAY['EXECUTE'])
ON CONFLICT (purpose, object_kind, object_name) DO NOTHING;

-- V005 saved `grantee::regrole::text` (quoted when needed); the role's plain name now, which the
-- restore passes through %I.
CREATE OR REPLACE FUNCTION argo_save_view_grants(p_name text) RETURNS integer
LANGUAGE plpgsql
AS $fn$
DECLARE
    v_saved integer;
BEGIN
    INSERT INTO warehouse_view_grants (view_name, grantee, privilege)
    SELECT c.relname,
           CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee)::text END,
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
    v_role     name;
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
        -- The saved rows are data, never SQL: the privilege must be one of the table privileges and
        -- the grantee PUBLIC or an existing role (matched by name, raw or quoted as V005 saved it);
        -- both go into the statement as keyword / %I. Anything else is skipped with a warning.
        FOR v_grant IN
            DELETE FROM warehouse_view_grants WHERE view_name = p_name RETURNING grantee, privilege
        LOOP
            v_role := NULL;
            IF v_grant.grantee <> 'PUBLIC' THEN
                SELECT r.rolname INTO v_role FROM pg_roles r
                 WHERE r.rolname = v_grant.grantee OR quote_ident(r.rolname) = v_grant.grantee
                 LIMIT 1;
            END IF;
            IF v_grant.privilege <> ALL (ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE',
                                               'REFERENCES', 'TRIGGER'])
               OR (v_grant.grantee <> 'PUBLIC' AND v_role IS NULL) THEN
                RAISE WARNING 'argo_build_view: not restoring saved grant (%, %) on %: not a table privilege and a role',
                    v_grant.privilege, v_grant.grantee, p_name;
            ELSIF v_role IS NULL THEN
                EXECUTE format('GRANT %s ON %I TO PUBLIC', v_grant.privilege, p_name);
            ELSE
                EXECUTE format('GRANT %s ON %I TO %I', v_grant.privilege, p_name, v_role);
            END IF;
        END LOOP;
        -- And SELECT for the registered writer and read-only roles (warehouse_roles).
        FOR v_role IN
            SELECT r.rolname FROM warehouse_roles w JOIN pg_roles r ON r.rolname = w.role_name
             WHERE w.purpose IN ('writer', 'readonly') ORDER BY 1
        LOOP
            EXECUTE format('GRANT SELECT ON %I TO %I', p_name, v_role);
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
    'Create, replace or rebuild a managed view only when its definition hash changed (whitelisted grants kept, registered roles granted); returns what it did.';

-- The writer refreshes mv_hourly_usage after ingestion; REFRESH needs the owner, so the function
-- runs as its owner, only for managed materialized views, with a search_path fixed to this schema.
CREATE OR REPLACE FUNCTION argo_refresh_matview(p_name text) RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
AS $fn$
DECLARE
    v_populated boolean;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM warehouse_view_definitions
                    WHERE view_name = p_name AND kind = 'materialized view') THEN
        RAISE EXCEPTION 'materialized view % is not managed by build_views', p_name
            USING HINT = 'Build the views first (python -m argo_energy.warehouse build-views).';
    END IF;
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

DO $search_path$
BEGIN
    -- pg_temp last: a caller's temporary objects can never shadow ours inside SECURITY DEFINER.
    EXECUTE format('ALTER FUNCTION argo_refresh_matview(text) SET search_path = %I, pg_temp', current_schema());
END
$search_path$;

COMMENT ON FUNCTION argo_refresh_matview(text) IS
    'REFRESH a managed materialized view (CONCURRENTLY once populated) as its owner; returns which.';

CREATE OR REPLACE FUNCTION argo_apply_role_grants() RETURNS integer
LANGUAGE plpgsql
AS $fn$
DECLARE
    v_schema  name := current_schema();
    v_role    record;
    v_priv    record;
    v_name    name;
    v_fn      regprocedure;
    v_granted integer := 0;
BEGIN
    -- Serialised with the view builds (same lock): both change the views' grants.
    PERFORM pg_advisory_xact_lock(842002, 0);
    -- The project's functions (argo_*, eniscope_budget_take, ...): every function of this schema
    -- that the applying role owns and no extension installed.
    FOR v_fn IN
        SELECT p.oid::regprocedure FROM pg_proc p
         WHERE p.pronamespace = v_schema::regnamespace AND p.proowner = current_user::regrole
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                              AND d.objid = p.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', v_fn);
    END LOOP;

    FOR v_role IN
        SELECT w.role_name, w.purpose FROM warehouse_roles w JOIN pg_roles r ON r.rolname = w.role_name
         WHERE w.purpose IN ('writer', 'readonly') ORDER BY w.role_name
    LOOP
        -- Converge: whatever the role had in this schema (e.g. the old SELECT ON ALL TABLES of
        -- readonly_role.sql) goes, then exactly the whitelist comes back, in this transaction.
        EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM %I', v_schema, v_role.role_name);
        EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM %I', v_schema, v_role.role_name);
        EXECUTE format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA %I FROM %I', v_schema, v_role.role_name);
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', v_schema, v_role.role_name);
        -- Only the database's owner (or a superuser) may grant these; anyone else gets a WARNING.
        EXECUTE format('GRANT CONNECT%s ON DATABASE %I TO %I',
                       CASE v_role.purpose WHEN 'writer' THEN ', TEMPORARY' ELSE '' END,
                       current_database(), v_role.role_name);

        FOR v_priv IN
            SELECT p.object_name, p.privileges, c.oid
              FROM warehouse_role_privileges p
              JOIN pg_class c ON c.relname = p.object_name AND c.relnamespace = v_schema::regnamespace
                             AND c.relkind IN ('r', 'p')
             WHERE p.purpose = v_role.purpose AND p.object_kind = 'table'
             ORDER BY p.object_name
        LOOP
            IF NOT v_priv.privileges <@ ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE'] THEN
                RAISE EXCEPTION 'warehouse_role_privileges: % on % is not on the whitelist',
                    v_priv.privileges, v_priv.object_name;
            END IF;
            EXECUTE format('GRANT %s ON TABLE %I TO %I',
                           array_to_string(v_priv.privileges, ', '), v_priv.object_name, v_role.role_name);
            v_granted := v_granted + 1;
            IF 'INSERT' = ANY (v_priv.privileges) THEN
                -- The table's serial / identity sequences (its id defaults).
                FOR v_name IN
                    SELECT s.relname FROM pg_depend d JOIN pg_class s ON s.oid = d.objid
                     WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
                       AND d.refobjid = v_priv.oid AND d.deptype IN ('a', 'i') AND s.relkind = 'S'
                LOOP
                    EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %I TO %I', v_name, v_role.role_name);
                END LOOP;
            END IF;
        END LOOP;

        FOR v_name IN
            SELECT c.relname FROM warehouse_view_definitions w
              JOIN pg_class c ON c.relname = w.view_name AND c.relnamespace = v_schema::regnamespace
                             AND c.relkind IN ('v', 'm')
             ORDER BY c.relname
        LOOP
            EXECUTE format('GRANT SELECT ON %I TO %I', v_name, v_role.role_name);
            v_granted := v_granted + 1;
        END LOOP;

        FOR v_fn IN
            SELECT to_regprocedure(p.object_name) FROM warehouse_role_privileges p
             WHERE p.purpose = v_role.purpose AND p.object_kind = 'function'
               AND p.privileges = ARRAY['EXECUTE'] AND to_regprocedure(p.object_name) IS NOT NULL
        LOOP
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', v_fn, v_role.role_name);
            v_granted := v_granted + 1;
        END LOOP;
        RAISE NOTICE 'role % (%): whitelist applied', v_role.role_name, v_role.purpose;
    END LOOP;
    RETURN v_granted;
END
$fn$;

COMMENT ON FUNCTION argo_apply_role_grants() IS
    'Converge the registered writer/readonly roles to warehouse_role_privileges and the managed views; revoke EXECUTE on argo_* from PUBLIC. Returns the number of grants.';

-- Functions the migrating role creates from now on are not executable by PUBLIC
-- (a per-schema default cannot revoke, so this is the role's default in this database).
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

SELECT argo_apply_role_grants();
