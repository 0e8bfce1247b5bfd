#!/usr/bin/env bash
# Runs once, when the compose postgres volume is first created (as the image's superuser):
# the three warehouse logins (include/sql/roles/roles.sql, mounted at /argo/roles), then the energy
# warehouse database beside Airflow's metadata database, owned by argo_owner. The passwords are in
# this container's environment (ARGO_OWNER_PASSWORD, ARGO_WRITER_PASSWORD, ARGO_READONLY_PASSWORD)
# and roles.sql reads them with \getenv: no password is ever a process argument. The grants come
# with migration V010, which airflow-init applies as argo_owner.
set -euo pipefail
wh_db="${ENERGY_DB_NAME:-energy}"
psql -v ON_ERROR_STOP=1 -X -q --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" -f /argo/roles/roles.sql
psql -v ON_ERROR_STOP=1 -X -q --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" -v wh_db="$wh_db" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER argo_owner', :'wh_db')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'wh_db') \gexec
-- Only the three logins (and the superuser) may connect; V010 grants CONNECT to the writer and reader.
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'wh_db') \gexec
SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO argo_owner', :'wh_db') \gexec
SQL
