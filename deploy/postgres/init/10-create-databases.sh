#!/bin/sh
# Runs once, on an empty data directory, from the postgres image's /docker-entrypoint-initdb.d.
# One database per service, each owned by its own login role, so a service cannot read
# another's tables (docs/adr/0003-per-service-databases-outbox-inbox.md).
# The password for every service role comes from STRIDE_DB_PASSWORD (default "stride": local use only).
set -e

for db in stride_auth stride_profile stride_activity_session stride_challenge stride_analytics stride_ai_coach; do
  psql --quiet -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
    -v db="$db" -v pw="${STRIDE_DB_PASSWORD:-stride}" <<'SQL'
CREATE ROLE :"db" LOGIN PASSWORD :'pw';
CREATE DATABASE :"db" OWNER :"db";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
SQL
done
