-- What the partition functions do is bounded, and nobody but the table's
-- owner can stall them.
--
-- The partition function runs as the owner (SECURITY DEFINER) on behalf of
-- writers that may only insert. It now:
--
--   * refuses times outside years 1 to 9999 (to_char prints the same digits
--     for 2027 BC and 2027 AD, so a BC partition would take the name of a
--     future month);
--   * creates partitions only within a window around now
--     (<table>_partition_settings, written by every Migrate from
--     Options.Back and Options.Ahead), and at most {{.MaxCreatePerCall}} per call;
--   * takes an existing relation for a partition only when it is one: a
--     plain table attached to the audit table with exactly the expected
--     bounds and owner (<table>_check_partition);
--   * creates a partition as a table of its own and attaches it (SHARE
--     UPDATE EXCLUSIVE on the audit table: inserts and reads go on, even
--     while the caller's transaction stays open), instead of CREATE TABLE
--     ... PARTITION OF (ACCESS EXCLUSIVE until the caller's transaction
--     ends);
--   * serializes with a lock on the partition registry, which only the
--     owner can take in a conflicting mode, instead of an advisory lock
--     that any login can hold; every lock wait is bounded (lock_timeout);
--   * acts only on objects owned by its own owner (a role that owns the
--     schema could otherwise replace them: Migrate also refuses such a
--     schema).
--
-- Retention drops one partition at a time, reports the partitions it could
-- not drop (a lock not granted in time, an object that depends on the
-- partition) and goes on with the others.

-- The window of partitions <table>_ensure_partitions may create: from back
-- partitions before the current one to ahead partitions after it. One row,
-- written by Migrate on every run.
CREATE TABLE {{qname "_partition_settings"}} (
    singleton  boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    back       integer     NOT NULL CHECK (back >= 0),
    ahead      integer     NOT NULL CHECK (ahead >= 1),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- <table>_check_partition returns true when p_name is the partition of the
-- audit table for [p_lo, p_hi), false when no relation of that name exists
-- in the schema, and raises object_not_in_prerequisite_state when some
-- other relation has the name.
CREATE FUNCTION {{qname "_check_partition"}}(p_name text, p_lo timestamptz, p_hi timestamptz)
RETURNS boolean
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
SET timezone = 'UTC'
SET datestyle = 'ISO, YMD'
AS $fn$
DECLARE
    v_oid   oid;
    v_kind  "char";
    v_part  boolean;
    v_owner oid;
    v_bound text;
BEGIN
    SELECT c.oid, c.relkind, c.relispartition, c.relowner, pg_get_expr(c.relpartbound, c.oid)
      INTO v_oid, v_kind, v_part, v_owner, v_bound
      FROM pg_class AS c
     WHERE c.relnamespace = {{.SchemaLit}}::regnamespace AND c.relname = p_name;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    IF v_kind <> 'r' OR NOT v_part
       OR NOT EXISTS (SELECT 1 FROM pg_inherits AS i WHERE i.inhrelid = v_oid AND i.inhparent = {{.TableRegclass}}::regclass)
       OR v_owner IS DISTINCT FROM (SELECT t.relowner FROM pg_class AS t WHERE t.oid = {{.TableRegclass}}::regclass)
       OR v_bound IS DISTINCT FROM format('FOR VALUES FROM (%L) TO (%L)', p_lo, p_hi) THEN
        RAISE EXCEPTION 'otelaudit: %.% exists but is not the partition of % for [%, %)', {{.SchemaLit}}, p_name, {{.TableRegclass}}, p_lo, p_hi
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('kind %s, partition %s, owner %s, bound %s', v_kind, v_part, v_owner::regrole, coalesce(v_bound, 'none')),
                  HINT = 'Inspect it as the table''s owner, then detach, rename or drop it.';
    END IF;
    RETURN true;
END
$fn$;

REVOKE ALL ON FUNCTION {{qname "_check_partition"}}(text, timestamptz, timestamptz) FROM PUBLIC;

-- <table>_ensure_partitions creates the partitions that cover [p_from, p_to]
-- and the p_ahead partitions after it (those within the window), unless
-- they exist, and returns one row per partition. Same signature as before:
-- the grant to the writer role stays.
CREATE OR REPLACE FUNCTION {{qname "_ensure_partitions"}}(p_from timestamptz, p_to timestamptz, p_ahead integer DEFAULT 0)
RETURNS TABLE (partition text, lo timestamptz, hi timestamptz, created boolean)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET timezone = 'UTC'
SET datestyle = 'ISO, YMD'
SET lock_timeout = {{.EnsureLockTimeoutLit}}
AS $fn$
DECLARE
    c_step  constant interval    := {{.StepLit}}::interval;
    c_first constant timestamptz := '0001-01-01 00:00:00+00';
    c_end   constant timestamptz := '10000-01-01 00:00:00+00';
    v_me    oid;
    v_now   timestamptz := date_trunc({{.IntervalLit}}, now());
    v_back  integer;
    v_ahead integer;
    v_min   timestamptz; -- the window: [v_min, v_max)
    v_max   timestamptz;
    v_last  timestamptz;
    v_cur   timestamptz;
    v_los   timestamptz[] := '{}';
    v_new   integer := 0;
BEGIN
    IF p_from IS NULL OR p_to IS NULL OR p_to < p_from OR p_ahead IS NULL OR p_ahead < 0 THEN
        RAISE EXCEPTION 'otelaudit: invalid partition range [%, %] with % ahead', p_from, p_to, p_ahead
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_from < c_first OR p_to >= c_end THEN
        RAISE EXCEPTION 'otelaudit: no partition for [%, %]: audit times are in years 1 to 9999', p_from, p_to
            USING ERRCODE = 'datetime_field_overflow';
    END IF;

    -- Act only on objects of this function's owner: a role that may drop
    -- and create objects in the schema (its owner) could have replaced them.
    SELECT r.oid INTO v_me FROM pg_roles AS r WHERE r.rolname = current_user;
    IF (SELECT count(*) FROM pg_class AS c
         WHERE c.relowner = v_me
           AND c.oid IN (to_regclass({{.TableRegclass}}), to_regclass({{qlit "_partitions"}}), to_regclass({{qlit "_partition_settings"}}))) <> 3
       OR (SELECT p.proowner FROM pg_proc AS p WHERE p.oid = to_regprocedure({{qlit "_refuse_change"}} || '()')) IS DISTINCT FROM v_me
       OR (SELECT p.proowner FROM pg_proc AS p WHERE p.oid = to_regprocedure({{qlit "_check_partition"}} || '(text, timestamptz, timestamptz)')) IS DISTINCT FROM v_me THEN
        RAISE EXCEPTION 'otelaudit: the objects of % are not all owned by %, the owner of the partition function; refusing to act on them', {{.TableRegclass}}, current_user
            USING ERRCODE = 'insufficient_privilege';
    END IF;

    SELECT s.back, s.ahead INTO v_back, v_ahead FROM {{qname "_partition_settings"}} AS s;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'otelaudit: % has no partition window; run Migrate', {{qlit "_partition_settings"}}
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    BEGIN
        v_min := greatest(v_now - v_back * c_step, c_first);
    EXCEPTION WHEN datetime_field_overflow THEN
        v_min := c_first;
    END;
    BEGIN
        v_max := least(v_now + (v_ahead + 1) * c_step, c_end);
    EXCEPTION WHEN datetime_field_overflow THEN
        v_max := c_end;
    END;

    -- The partitions asked for, then those ahead that are in the window;
    -- a wild range fails before anything is looked at.
    v_cur := date_trunc({{.IntervalLit}}, p_from);
    v_last := date_trunc({{.IntervalLit}}, p_to);
    WHILE v_cur <= v_last LOOP
        IF cardinality(v_los) >= {{.MaxPartitionsPerCall}} THEN
            RAISE EXCEPTION 'otelaudit: more than {{.MaxPartitionsPerCall}} partitions in one call ([%, %] with % ahead)', p_from, p_to, p_ahead
                USING ERRCODE = 'program_limit_exceeded';
        END IF;
        v_los := v_los || v_cur;
        v_cur := v_cur + c_step;
    END LOOP;
    FOR i IN 1..least(p_ahead, {{.MaxPartitionsPerCall}}) LOOP
        EXIT WHEN v_cur >= v_max OR cardinality(v_los) >= {{.MaxPartitionsPerCall}};
        IF v_cur >= v_min THEN
            v_los := v_los || v_cur;
        END IF;
        v_cur := v_cur + c_step;
    END LOOP;

    -- Which are missing; those are created only inside the window, at
    -- most {{.MaxCreatePerCall}} per call. Nothing is locked yet.
    FOREACH v_cur IN ARRAY v_los LOOP
        IF NOT {{qname "_check_partition"}}({{.TableLit}} || '_p' || to_char(v_cur, {{.NameFormatLit}}), v_cur, v_cur + c_step) THEN
            IF v_cur < v_min OR v_cur >= v_max THEN
                RAISE EXCEPTION 'otelaudit: no partition of % for [%, %): outside the window [%, %) in which partitions are created', {{.TableRegclass}}, v_cur, v_cur + c_step, v_min, v_max
                    USING ERRCODE = 'datetime_field_overflow',
                          HINT = 'The window is Options.Back partitions before the current one to Options.Ahead after it, set by Migrate.';
            END IF;
            v_new := v_new + 1;
        END IF;
    END LOOP;
    IF v_new > {{.MaxCreatePerCall}} THEN
        RAISE EXCEPTION 'otelaudit: % partitions to create in one call, more than {{.MaxCreatePerCall}} ([%, %] with % ahead)', v_new, p_from, p_to, p_ahead
            USING ERRCODE = 'program_limit_exceeded';
    END IF;
    IF v_new > 0 THEN
        -- Serializes creators and retention. Writers may read the
        -- registry (ACCESS SHARE), which does not conflict; only its owner
        -- can take a mode that does.
        LOCK TABLE {{qname "_partitions"}} IN SHARE ROW EXCLUSIVE MODE;
    END IF;

    FOREACH v_cur IN ARRAY v_los LOOP
        partition := {{.TableLit}} || '_p' || to_char(v_cur, {{.NameFormatLit}});
        lo := v_cur;
        hi := v_cur + c_step;
        created := false;
        IF v_new > 0 AND NOT {{qname "_check_partition"}}(partition, lo, hi) THEN
            EXECUTE format('CREATE TABLE %I.%I (LIKE {{.Table}} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', {{.SchemaLit}}, partition);
            EXECUTE format('ALTER TABLE {{.Table}} ATTACH PARTITION %I.%I FOR VALUES FROM (%L) TO (%L)', {{.SchemaLit}}, partition, lo, hi);
            EXECUTE format('CREATE TRIGGER otelaudit_append_only_truncate BEFORE TRUNCATE ON %I.%I '
                'FOR EACH STATEMENT EXECUTE FUNCTION {{qname "_refuse_change"}}()', {{.SchemaLit}}, partition);
            INSERT INTO {{qname "_partitions"}} AS r (partition, lo, hi) VALUES (partition, lo, hi)
                ON CONFLICT DO NOTHING;
            created := true;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$fn$;

-- <table>_drop_partitions_before drops, oldest first, the partitions whose
-- rows are all older than p_cutoff (upper bound at or before it) and whose
-- lower bound is after p_after, at most p_limit of them (NULL: all), and
-- returns one row per partition it tried: dropped, or not and why (a lock
-- not granted within the lock timeout, an object that depends on the
-- partition, a relation that is not the partition). Each drop runs in a
-- subtransaction of its own, so one that fails leaves the others. It runs
-- with the caller's rights: only the table's owner (or a superuser) can
-- drop partitions.
DROP FUNCTION {{qname "_drop_partitions_before"}}(timestamptz);

CREATE FUNCTION {{qname "_drop_partitions_before"}}(p_cutoff timestamptz, p_after timestamptz DEFAULT '-infinity', p_limit integer DEFAULT NULL)
RETURNS TABLE (partition text, lo timestamptz, hi timestamptz, dropped boolean, reason text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET timezone = 'UTC'
SET datestyle = 'ISO, YMD'
SET lock_timeout = {{.RetentionLockTimeoutLit}}
AS $fn$
DECLARE
    r        record;
    v_detail text;
BEGIN
    IF p_cutoff IS NULL OR p_after IS NULL OR p_limit < 1 THEN
        RAISE EXCEPTION 'otelaudit: invalid retention call (cutoff %, after %, limit %)', p_cutoff, p_after, p_limit
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    LOCK TABLE {{qname "_partitions"}} IN SHARE ROW EXCLUSIVE MODE;
    FOR r IN SELECT p.partition, p.lo, p.hi FROM {{qname "_partitions"}} AS p
              WHERE p.hi <= p_cutoff AND p.lo > p_after ORDER BY p.lo LIMIT p_limit LOOP
        partition := r.partition;
        lo := r.lo;
        hi := r.hi;
        dropped := false;
        reason := NULL;
        BEGIN
            IF {{qname "_check_partition"}}(r.partition, r.lo, r.hi) THEN
                EXECUTE format('DROP TABLE %I.%I', {{.SchemaLit}}, r.partition);
            END IF;
            DELETE FROM {{qname "_partitions"}} AS p WHERE p.partition = r.partition;
            dropped := true;
        EXCEPTION WHEN lock_not_available OR dependent_objects_still_exist OR object_in_use OR object_not_in_prerequisite_state THEN
            GET STACKED DIAGNOSTICS v_detail = PG_EXCEPTION_DETAIL;
            reason := SQLSTATE || ': ' || SQLERRM || CASE WHEN coalesce(v_detail, '') <> '' THEN ' (' || v_detail || ')' ELSE '' END;
        END;
        RETURN NEXT;
    END LOOP;
END
$fn$;

REVOKE ALL ON FUNCTION {{qname "_drop_partitions_before"}}(timestamptz, timestamptz, integer) FROM PUBLIC;
