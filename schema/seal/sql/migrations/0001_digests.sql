-- The signed digests and their leaves.
--
-- Written by the sealing job only; verifiers read them. The leaves are what
-- lets a verifier name the event behind every difference and build
-- inclusion proofs; they are checked against the signed roots before use,
-- so editing them is detected like editing the audit rows.

CREATE TABLE {{.Digests}} (
    seq        bigint      PRIMARY KEY CHECK (seq > 0),
    version    smallint    NOT NULL,
    range_start timestamptz NOT NULL,
    range_end   timestamptz NOT NULL,
    part       integer     NOT NULL CHECK (part >= 0),
    row_count  bigint      NOT NULL CHECK (row_count >= 0),
    root       bytea       NOT NULL,
    first_time timestamptz,
    last_time  timestamptz,
    sealed_at  timestamptz NOT NULL,
    prev_hash  bytea       NOT NULL,
    key_id     bytea       NOT NULL,
    signature  bytea       NOT NULL,
    CHECK (range_start < range_end),
    UNIQUE (range_start, part)
);

COMMENT ON TABLE {{.Digests}} IS
    'otelaudit seal: signed Merkle roots of sealed ranges of {{.AuditTableName}}, chained by prev_hash';

-- One row per sealed audit row: its place in its digest's tree, its leaf
-- hash, and the salt and commitment of its personal fields. Erasing a
-- person sets salt to NULL; the commitment stays.
CREATE TABLE {{.Leaves}} (
    seq        bigint      NOT NULL, -- no foreign key: checked against the signed digests instead
    idx        bigint      NOT NULL CHECK (idx >= 0),
    created_at timestamptz NOT NULL,
    event_id   uuid        NOT NULL,
    leaf_hash  bytea       NOT NULL,
    salt       bytea,
    commitment bytea       NOT NULL,
    PRIMARY KEY (seq, idx)
);

-- Inclusion proofs and erasure look leaves up by event id.
CREATE INDEX {{.LeavesEventIdx}} ON {{.Leaves}} (event_id);
