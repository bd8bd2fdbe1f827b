-- The writer role: what an exporter needs and nothing more. Run by every
-- Migrate that names one; every statement is idempotent.
DO $do$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = {{.WriterRoleLit}}) THEN
        CREATE ROLE {{.WriterRole}} NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object THEN
    NULL; -- created meanwhile by a migration of another database
END
$do$;

GRANT USAGE ON SCHEMA {{.Schema}} TO {{.WriterRole}};
-- INSERT is enough for COPY and for INSERT ... ON CONFLICT DO NOTHING
-- without a conflict target. No SELECT, UPDATE, DELETE or TRUNCATE.
GRANT INSERT ON {{.Table}} TO {{.WriterRole}};
-- Creating a partition needs ownership of the table; the function does it
-- on the writer's behalf.
GRANT EXECUTE ON FUNCTION {{qname "_ensure_partitions"}}(timestamptz, timestamptz, integer) TO {{.WriterRole}};
-- Which ranges exist: partition names and bounds, no audit data.
GRANT SELECT ON {{qname "_partitions"}} TO {{.WriterRole}};
