-- The read-only login of the weekly report alone (connection energy_db_readonly). psql script.
-- roles.sql creates all three logins; this one is for a deployment that only adds the report's.
--
--   ARGO_READONLY_PASSWORD='<secret>' \
--   psql "postgresql://<admin or warehouse owner>@<host>/<warehouse db>" -v role_name=argo_report \
--        -f include/sql/roles/readonly_role.sql
--
-- Variables (psql -v): role_name (default argo_report), readonly_timeout (statement_timeout,
-- default 60s). The password comes from the environment variable ARGO_READONLY_PASSWORD; unset, it
-- is left as it is. (-v role_password still works for old callers, with a warning: it puts the
-- password in psql's arguments.)
--
-- What the role gets (migration V010, argo_apply_role_grants): CONNECT, USAGE on the schema, SELECT
-- on the managed views and on validation_results, EXECUTE on argo_local_to_utc; nothing on
-- readings or any other table, no writes. Its transactions are read-only by default and its
-- statements time out. Run it after the migrations (it registers the role in warehouse_roles), as
-- the warehouse owner with CREATEROLE or a superuser. Re-running is safe (it converges).

\set ON_ERROR_STOP on

\if :{?role_name}
\else
  \set role_name argo_report
\endif
\if :{?readonly_timeout}
\else
  \set readonly_timeout 60s
\endif
SELECT to_regprocedure('argo_apply_role_grants()') IS NOT NULL AS has_grants_function \gset
\if :has_grants_function
\else
  DO $$ BEGIN RAISE EXCEPTION 'argo_apply_role_grants() is missing: apply the migrations (V010) first'; END $$;
\endif

\set purpose readonly
\set password_env ARGO_READONLY_PASSWORD
\ir login_role.sql

SELECT argo_apply_role_grants() AS grants;
SELECT format('role %s: read-only on the views of database %s', :'role_name', current_database()) AS done;
