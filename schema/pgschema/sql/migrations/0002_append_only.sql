-- Append-only: UPDATE, DELETE and TRUNCATE of audit rows fail, whoever runs
-- them. Row triggers on a partitioned table are cloned onto every partition,
-- present and future; statement (TRUNCATE) triggers are not, so the
-- partition function adds one to each partition it creates.
--
-- What is still possible, by design, for the table's owner only: dropping or
-- detaching whole partitions (retention; DROP and DETACH fire no row
-- triggers), and ALTER TABLE ... DISABLE TRIGGER. The writer role can do
-- neither.

CREATE FUNCTION {{qname "_refuse_change"}}() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RAISE EXCEPTION 'otelaudit: % on %.% refused: audit rows are append-only', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Retention drops whole partitions: SELECT * FROM {{qname "_drop_partitions_before"}}(cutoff).';
END
$fn$;

CREATE TRIGGER otelaudit_append_only
    BEFORE UPDATE OR DELETE ON {{.Table}}
    FOR EACH ROW EXECUTE FUNCTION {{qname "_refuse_change"}}();

CREATE TRIGGER otelaudit_append_only_truncate
    BEFORE TRUNCATE ON {{.Table}}
    FOR EACH STATEMENT EXECUTE FUNCTION {{qname "_refuse_change"}}();
