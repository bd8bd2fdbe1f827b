-- The record of applied migrations, one row per (audit table, version).
-- Applied by Migrate before anything else, on every run (IF NOT EXISTS).
CREATE TABLE IF NOT EXISTS {{.Migrations}}{{.OnCluster}}
(
    table_name String,
    version UInt32,
    name String,
    layout String,
    checksum String,
    applied_at DateTime
)
ENGINE = {{engine "ReplacingMergeTree" .MigrationsName}}
ORDER BY (table_name, version);
