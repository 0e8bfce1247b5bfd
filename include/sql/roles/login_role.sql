-- One login of the warehouse, included by roles.sql and readonly_role.sql (psql \ir); not run alone.
--
-- psql variables set by the caller: role_name, purpose (owner | writer | readonly), password_env
-- (the NAME of the environment variable holding the password) and, for readonly,
-- readonly_timeout. The password is read from the environment with \getenv, so it never appears in
-- a process's arguments; when that variable is unset or empty the password is left as it is
-- (certificate auth, a password set in the Neon console). It still reaches the server as
-- ALTER ROLE ... PASSWORD: keep log_statement below 'ddl' while running this.
--
-- A missing role is created only when the user running this may (superuser or CREATEROLE);
-- otherwise the script stops naming the role. The running user's own role is never altered (on Neon
-- that is neondb_owner, the usual owner). Other roles lose SUPERUSER, CREATEDB, CREATEROLE,
-- REPLICATION, BYPASSRLS if they had them and get LOGIN.

SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role_name') AS role_missing,
       (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) AS may_create_roles,
       :'role_name' = current_user AS role_is_me,
       :'purpose' = 'readonly' AS role_is_readonly,
       to_regclass('warehouse_roles') IS NOT NULL AS migrated \gset

\if :role_missing
  \if :may_create_roles
    SELECT format('CREATE ROLE %I LOGIN', :'role_name') \gexec
  \else
    SELECT set_config('argo.role_error', format(
        'role %s does not exist and %s may not create roles: a Neon admin (or a superuser) runs include/sql/roles/roles.sql',
        :'role_name', current_user), false) \g /dev/null
    DO $$ BEGIN RAISE EXCEPTION '%', current_setting('argo.role_error'); END $$;
  \endif
\endif

\if :role_is_me
\else
  SELECT format('ALTER ROLE %I WITH %s', r.rolname, array_to_string(
             array_remove(ARRAY[
                 CASE WHEN NOT r.rolcanlogin THEN 'LOGIN' END,
                 CASE WHEN r.rolsuper THEN 'NOSUPERUSER' END,
                 CASE WHEN r.rolcreatedb THEN 'NOCREATEDB' END,
                 CASE WHEN r.rolcreaterole THEN 'NOCREATEROLE' END,
                 CASE WHEN r.rolreplication THEN 'NOREPLICATION' END,
                 CASE WHEN r.rolbypassrls THEN 'NOBYPASSRLS' END], NULL), ' '))
    FROM pg_roles r
   WHERE r.rolname = :'role_name'
     AND (NOT r.rolcanlogin OR r.rolsuper OR r.rolcreatedb OR r.rolcreaterole OR r.rolreplication
          OR r.rolbypassrls) \gexec
\endif

\unset role_password_env_value
\getenv role_password_env_value :password_env
\if :{?role_password_env_value}
  \set role_password :role_password_env_value
  \unset role_password_env_value
\elif :{?role_password}
  \warn 'readonly_role.sql: -v role_password puts the password in psql''s arguments (visible in ps); set ARGO_READONLY_PASSWORD instead'
\endif
\if :{?role_password}
  SELECT :'role_password' <> '' AS has_password \gset
  \if :has_password
    ALTER ROLE :"role_name" WITH PASSWORD :'role_password';
  \endif
  \unset role_password
\endif

\if :role_is_readonly
  -- Role settings belong to the login (a member of a group does not inherit them). Read-only by
  -- default as a second barrier (the grants are the first); a runaway report query is cancelled.
  ALTER ROLE :"role_name" SET default_transaction_read_only = on;
  ALTER ROLE :"role_name" SET statement_timeout = :'readonly_timeout';
  ALTER ROLE :"role_name" SET idle_in_transaction_session_timeout = '5min';
\endif

\if :migrated
  INSERT INTO warehouse_roles (role_name, purpose) VALUES (:'role_name', :'purpose')
  ON CONFLICT (role_name) DO UPDATE SET purpose = EXCLUDED.purpose, registered_at = CURRENT_TIMESTAMP;
\endif
