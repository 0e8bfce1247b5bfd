-- A read-only login for the weekly report (Airflow connection energy_db_readonly). psql script.
--
--   psql "postgresql://<admin or warehouse owner>@<host>/<warehouse db>" \
--        -v role_name=argo_report -v role_password='<secret>' \
--        -f include/sql/roles/readonly_role.sql
--
-- Variables (psql -v):
--   role_name      the login to create or update (default argo_report)
--   role_password  its password; omit it to leave the password as it is (e.g. certificate auth)
--   owner_role     the role that creates the warehouse's tables and views, i.e. the login of the
--                  energy_db connection that runs the migrations (default: the user running this
--                  script). Future objects it creates in schema public become readable too.
--
-- What the role gets: LOGIN, CONNECT on this database, USAGE on schema public, SELECT on every
-- table, view and materialized view there now, and (default privileges) on those owner_role creates
-- later; default_transaction_read_only = on as a second barrier. Nothing else: no INSERT, UPDATE,
-- DELETE, TRUNCATE, no CREATE. Re-running the script is safe (it converges to the same grants).
-- Run it as a superuser, or as owner_role with CREATEROLE. PostgreSQL 15+ no longer lets PUBLIC
-- create in schema public; on older servers also run REVOKE CREATE ON SCHEMA public FROM PUBLIC.

\set ON_ERROR_STOP on

\if :{?role_name}
\else
  \set role_name argo_report
\endif
\if :{?owner_role}
\else
  SELECT current_user AS owner_role \gset
\endif

SELECT format('CREATE ROLE %I LOGIN', :'role_name')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role_name') \gexec

ALTER ROLE :"role_name" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;

\if :{?role_password}
  ALTER ROLE :"role_name" WITH PASSWORD :'role_password';
\endif

-- Every transaction of this login starts read-only unless it asks otherwise; the grants below are
-- what actually forbids writing.
ALTER ROLE :"role_name" SET default_transaction_read_only = on;

SELECT format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), :'role_name') \gexec

GRANT USAGE ON SCHEMA public TO :"role_name";
-- ALL TABLES covers tables, views and materialized views (the report reads views only, but a view
-- is read with its owner's rights on the tables below it, so only the views need SELECT; granting
-- the tables too lets an analyst use the same login for ad-hoc queries).
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"role_name";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner_role" IN SCHEMA public GRANT SELECT ON TABLES TO :"role_name";

SELECT format('role %s: read-only on schema public of database %s (default privileges for objects of %s)',
              :'role_name', current_database(), :'owner_role') AS done;
