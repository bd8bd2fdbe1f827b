-- Partition maintenance, in the database so that every writer, the
-- migration code, the CLI and a cron job (pg_cron) share one definition of
-- the partition layout ({{.IntervalAdverb}}, UTC).

-- <table>_ensure_partitions creates the partitions that cover [p_from, p_to]
-- and the p_ahead partitions after it, unless they exist, and returns one row
-- per partition of that range. SECURITY DEFINER: it runs as the table's
-- owner, so a writer role that may only INSERT can still make sure that the
-- partition for a new month exists before it writes (creating a partition
-- needs ownership of the parent). It takes a transaction-scoped advisory
-- lock, so concurrent callers do not race.
CREATE FUNCTION {{qname "_ensure_partitions"}}(p_from timestamptz, p_to timestamptz, p_ahead integer DEFAULT 0)
RETURNS TABLE (partition text, lo timestamptz, hi timestamptz, created boolean)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET timezone = 'UTC'
AS $fn$
DECLARE
    v_lo   timestamptz;
    v_last timestamptz;
    v_n    integer := 0;
BEGIN
    IF p_from IS NULL OR p_to IS NULL OR p_to < p_from OR p_ahead IS NULL OR p_ahead < 0 THEN
        RAISE EXCEPTION 'otelaudit: invalid partition range [%, %] with % ahead', p_from, p_to, p_ahead
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_lo := date_trunc({{.IntervalLit}}, p_from);
    v_last := date_trunc({{.IntervalLit}}, p_to) + p_ahead * {{.StepLit}}::interval;
    -- Count first, so that a wild range fails before creating anything.
    WHILE v_lo + v_n * {{.StepLit}}::interval <= v_last LOOP
        v_n := v_n + 1;
        IF v_n > {{.MaxPartitionsPerCall}} THEN
            RAISE EXCEPTION 'otelaudit: more than {{.MaxPartitionsPerCall}} partitions in one call ([%, %] with % ahead)', p_from, p_to, p_ahead
                USING ERRCODE = 'program_limit_exceeded';
        END IF;
    END LOOP;
    PERFORM pg_advisory_xact_lock({{.PartitionLockKey}});
    WHILE v_lo <= v_last LOOP
        partition := {{.TableLit}} || '_p' || to_char(v_lo, {{.NameFormatLit}});
        lo := v_lo;
        hi := v_lo + {{.StepLit}}::interval;
        created := false;
        IF to_regclass(format('%I.%I', {{.SchemaLit}}, partition)) IS NULL THEN
            EXECUTE format('CREATE TABLE %I.%I PARTITION OF {{.Table}} FOR VALUES FROM (%L) TO (%L)',
                {{.SchemaLit}}, partition, lo, hi);
            EXECUTE format('CREATE TRIGGER otelaudit_append_only_truncate BEFORE TRUNCATE ON %I.%I '
                'FOR EACH STATEMENT EXECUTE FUNCTION {{qname "_refuse_change"}}()', {{.SchemaLit}}, partition);
            created := true;
        END IF;
        INSERT INTO {{qname "_partitions"}} AS r (partition, lo, hi) VALUES (partition, lo, hi)
            ON CONFLICT DO NOTHING;
        RETURN NEXT;
        v_lo := hi;
    END LOOP;
END
$fn$;

REVOKE ALL ON FUNCTION {{qname "_ensure_partitions"}}(timestamptz, timestamptz, integer) FROM PUBLIC;

-- <table>_drop_partitions_before drops every partition whose rows are all
-- older than p_cutoff (its upper bound is at or before p_cutoff) and returns
-- them. It runs with the caller's rights: only the table's owner (or a
-- superuser) can drop partitions. DROP fires no row or TRUNCATE trigger, so
-- this is the one way audit rows leave the table.
CREATE FUNCTION {{qname "_drop_partitions_before"}}(p_cutoff timestamptz)
RETURNS TABLE (partition text, lo timestamptz, hi timestamptz)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET timezone = 'UTC'
AS $fn$
DECLARE
    r record;
BEGIN
    IF p_cutoff IS NULL THEN
        RAISE EXCEPTION 'otelaudit: cutoff must not be null' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pg_advisory_xact_lock({{.PartitionLockKey}});
    FOR r IN SELECT p.partition, p.lo, p.hi FROM {{qname "_partitions"}} AS p WHERE p.hi <= p_cutoff ORDER BY p.lo LOOP
        EXECUTE format('DROP TABLE IF EXISTS %I.%I', {{.SchemaLit}}, r.partition);
        DELETE FROM {{qname "_partitions"}} AS p WHERE p.partition = r.partition;
        partition := r.partition;
        lo := r.lo;
        hi := r.hi;
        RETURN NEXT;
    END LOOP;
END
$fn$;

REVOKE ALL ON FUNCTION {{qname "_drop_partitions_before"}}(timestamptz) FROM PUBLIC;
