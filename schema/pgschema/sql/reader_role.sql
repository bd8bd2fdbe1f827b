-- The reader role: what the read side needs and nothing more. Run by every
-- Migrate that names one; every statement is idempotent.
DO $do$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = {{.ReaderRoleLit}}) THEN
        CREATE ROLE {{.ReaderRole}} NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object THEN
    NULL; -- created meanwhile by a migration of another database
END
$do$;

GRANT USAGE ON SCHEMA {{.Schema}} TO {{.ReaderRole}};
-- SELECT on the table reads every partition through it. No INSERT,
-- UPDATE, DELETE or TRUNCATE, no partition function.
GRANT SELECT ON {{.Table}} TO {{.ReaderRole}};
-- Which ranges exist, and which migrations ran (the CLI checks them).
GRANT SELECT ON {{qname "_partitions"}} TO {{.ReaderRole}};
GRANT SELECT ON {{qname "_schema_migrations"}} TO {{.ReaderRole}};
