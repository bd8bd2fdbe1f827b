{{- /* Statements Migrate runs besides the versioned migrations. */ -}}

{{define "schema_trust" -}}
{{- /*
One row per schema named $1: its owner (the database's owner when the schema
belongs to pg_database_owner), whether that owner is the current role or a
superuser, and the other roles (PUBLIC included) that may create objects in
it. Those roles, like the owner, could drop and replace the audit table's
objects, or plant objects the partition function would take for its own.
*/ -}}
WITH me AS (
    SELECT r.oid FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user
), db AS (
    SELECT d.datdba FROM pg_catalog.pg_database AS d WHERE d.datname = pg_catalog.current_database()
), ns AS (
    SELECT n.nspacl,
           CASE WHEN n.nspowner = pg_catalog.to_regrole('pg_database_owner') THEN (SELECT datdba FROM db) ELSE n.nspowner END AS owner
    FROM pg_catalog.pg_namespace AS n
    WHERE n.nspname = $1
), creators AS (
    SELECT DISTINCT CASE WHEN a.grantee = pg_catalog.to_regrole('pg_database_owner') THEN (SELECT datdba FROM db) ELSE a.grantee END AS grantee
    FROM ns, pg_catalog.aclexplode(ns.nspacl) AS a
    WHERE a.privilege_type = 'CREATE'
)
SELECT pg_catalog.pg_get_userbyid(ns.owner),
       ns.owner = (SELECT oid FROM me) OR coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.oid = ns.owner), false),
       ARRAY(
           SELECT CASE WHEN c.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(c.grantee) END
           FROM creators AS c
           WHERE c.grantee <> ns.owner AND c.grantee <> (SELECT oid FROM me)
             AND NOT coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.oid = c.grantee), false)
           ORDER BY 1)
FROM ns
{{- end}}

{{define "create_schema" -}}
CREATE SCHEMA IF NOT EXISTS {{.Schema}}
{{- end}}

{{define "migrations_table" -}}
CREATE TABLE IF NOT EXISTS {{qname "_schema_migrations"}} (
	version    integer     PRIMARY KEY,
	name       text        NOT NULL,
	checksum   text        NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)
{{- end}}

{{define "partition_settings" -}}
{{- /* The window of the partition function: $1 back, $2 ahead. */ -}}
INSERT INTO {{qname "_partition_settings"}} AS s (singleton, back, ahead) VALUES (true, $1, $2)
ON CONFLICT (singleton) DO UPDATE SET back = EXCLUDED.back, ahead = EXCLUDED.ahead, updated_at = now()
WHERE (s.back, s.ahead) IS DISTINCT FROM (EXCLUDED.back, EXCLUDED.ahead)
{{- end}}
