#!/usr/bin/env bash
# Runs once, when the compose postgres volume is first created: the energy warehouse lives in
# its own database beside Airflow's metadata database, owned by its own role.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v wh_db="${ENERGY_DB_NAME:-energy}" -v wh_user="${ENERGY_DB_USER:-energy}" -v wh_pass="${ENERGY_DB_PASSWORD:-energy}" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'wh_user', :'wh_pass')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'wh_user') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'wh_db', :'wh_user')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'wh_db') \gexec
SQL
