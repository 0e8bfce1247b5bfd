-- The warehouse's three logins: owner, writer, read-only (migration V010 defines what each may do).
--
--   ARGO_OWNER_PASSWORD=... ARGO_WRITER_PASSWORD=... ARGO_READONLY_PASSWORD=... \
--   psql "postgresql://<admin>@<host>/<warehouse db>" -f include/sql/roles/roles.sql
--
-- Passwords come from the environment only (never -v: psql's arguments are visible to every user
-- of the machine); an unset one leaves that role's password unchanged. Role names are psql
-- variables with defaults (-v owner_role=neondb_owner to keep Neon's owner as the owner):
--   owner_role       argo_owner     owns every object: runs migrations and view builds (energy_db_owner)
--   writer_role      argo_writer    the ingestion and validation DAGs (energy_db)
--   readonly_role    argo_readonly  the weekly report (energy_db_readonly)
--   readonly_timeout 60s            statement_timeout of the read-only login
--
-- Run it as a superuser or a role with CREATEROLE (Neon: neondb_owner), connected to the warehouse
-- database. Safe to re-run (it converges). Before the migrations have run it only creates the
-- roles; V010 then grants to argo_writer / argo_readonly (registered by default). With other names
-- or after the migrations, it registers the roles in warehouse_roles and applies the grants now,
-- which needs the owner of the warehouse's objects (or a superuser).

\set ON_ERROR_STOP on

\if :{?owner_role}
\else
  \set owner_role argo_owner
\endif
\if :{?writer_role}
\else
  \set writer_role argo_writer
\endif
\if :{?readonly_role}
\else
  \set readonly_role argo_readonly
\endif
\if :{?readonly_timeout}
\else
  \set readonly_timeout 60s
\endif

\set role_name :owner_role
\set purpose owner
\set password_env ARGO_OWNER_PASSWORD
\ir login_role.sql

\set role_name :writer_role
\set purpose writer
\set password_env ARGO_WRITER_PASSWORD
\ir login_role.sql

\set role_name :readonly_role
\set purpose readonly
\set password_env ARGO_READONLY_PASSWORD
\ir login_role.sql

\if :migrated
  SELECT argo_apply_role_grants() AS grants;
\else
  \echo 'warehouse not migrated yet: migration V010 grants to the registered roles (argo_writer, argo_readonly by default)'
\endif
