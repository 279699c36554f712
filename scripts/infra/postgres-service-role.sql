-- A service's own PostgreSQL role: it logs in and owns its database and everything in it, and
-- has nothing else (no superuser, no database or role creation, no CONNECT on any other
-- database). Idempotent: run on every `make infra`, and by the tests on databases of their own.
-- The administrator running it (a superuser) keeps creating the tests' databases.
-- psql variables: role, database, password.
\set ON_ERROR_STOP on
SELECT format('CREATE ROLE %I LOGIN', :'role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD :'password';
-- Owner of its database, hence of its public schema (pg_database_owner, PostgreSQL 15+).
ALTER DATABASE :"database" OWNER TO :"role";
-- No one but the owner and superusers may connect, nor to the administrator's own database.
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
REVOKE CONNECT ON DATABASE postgres FROM PUBLIC;
\connect :"database"
-- What the administrator created before the role existed (an earlier start) becomes the role's:
-- migrations (CREATE INDEX, ALTER TABLE) need the owner. Column-owned sequences follow their table.
SELECT format('ALTER TABLE %I.%I OWNER TO %I', schemaname, tablename, :'role')
FROM pg_tables WHERE schemaname = 'public' AND tableowner <> :'role' \gexec
SELECT format('ALTER SEQUENCE %I.%I OWNER TO %I', schemaname, sequencename, :'role')
FROM pg_sequences s
WHERE schemaname = 'public' AND sequenceowner <> :'role' AND NOT EXISTS (
    SELECT FROM pg_depend d
    WHERE d.objid = format('%I.%I', s.schemaname, s.sequencename)::regclass AND d.deptype IN ('a', 'i')
) \gexec
SELECT format('ALTER VIEW %I.%I OWNER TO %I', schemaname, viewname, :'role')
FROM pg_views WHERE schemaname = 'public' AND viewowner <> :'role' \gexec
