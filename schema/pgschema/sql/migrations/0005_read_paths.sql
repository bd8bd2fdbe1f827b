-- The read side's paths: arrival order, for readers that follow the table
-- (tail -f), and the target resource, for subject-access exports.
--
-- ingested_at is the writing transaction's start, and created_at the
-- event's time: neither tells a reader which rows it has not seen yet,
-- because transactions commit in another order than they start. arrival
-- is the writing transaction's id (xid8, never wrapping). A reader that
-- takes only rows whose arrival is below its snapshot's xmin
-- (pg_snapshot_xmin(pg_current_snapshot())) sees only transactions that
-- have ended: no row with a lower arrival can commit after it read, so a
-- cursor over (arrival, created_at, event_id) delivers each row once.
--
-- The column is added without a default first, so that existing rows are
-- not rewritten (they keep NULL and are never followed), then given its
-- default for the rows to come. Writers never fill it.
ALTER TABLE {{.Table}} ADD COLUMN arrival xid8;
ALTER TABLE {{.Table}} ALTER COLUMN arrival SET DEFAULT pg_catalog.pg_current_xact_id();

CREATE INDEX {{name "_arrival_idx"}} ON {{.Table}} (arrival, created_at, event_id)
    WHERE arrival IS NOT NULL;

-- By target resource: the events done to a resource (an administrator's
-- action on a user's account), which a subject-access export reads
-- together with the user's own events (the user index).
CREATE INDEX {{name "_resource_idx"}} ON {{.Table}} (resource_id, created_at)
    WHERE resource_id IS NOT NULL;
