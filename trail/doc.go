// Package trail reads the audit trail back: search with one [Filter] type
// on Postgres and on ClickHouse, page with a stable cursor, and follow new
// rows (tail -f) on Postgres. It is what the otelaudit command's search,
// tail and export are built on.
//
//	pg, err := trail.NewPostgres(pool)                                   // SELECT on the table is enough
//	res, err := pg.Search(ctx, trail.Filter{Workspace: "ws_1", Action: "oauth.*"}, trail.Page{Limit: 50})
//	for _, r := range res.Records { fmt.Println(r.Time, r.Action, r.Actor.UserID, r.Details) }
//	res, err = pg.Search(ctx, f, trail.Page{Limit: 50, After: res.Next}) // the next page
//
//	ch, err := trail.NewClickHouse(conn, trail.WithClickHouseSchema(chschema.Options{Database: "audit"}))
//	res, err = ch.Search(ctx, f, trail.Page{Limit: 50})                 // the same answers
//
//	err = pg.Tail(ctx, trail.Filter{Outcome: "failure"}, "", 0, func(r trail.Record) error { ...; return nil })
//
// # Filters
//
// Every field of [Filter] that is set must match. Action takes a name or a
// prefix followed by "*" ("oauth.*"). Subject is a user as the actor
// (user_id) or as the target (an event whose resource is
// [UserResourceType] with the user's id, as an administrator's action on
// an account is recorded): the events a subject-access export must hold.
// ClientIP is compared in canonical form. Since and Until bound the event
// time, [Since, Until). Filter values are always bound as query
// parameters, never written into the SQL.
//
// # Pages and cursors
//
// A search reads by (time, event id), newest first unless [Page.Order] is
// [OldestFirst]. [Result.Next] is set when the page is full; passing it as
// [Page.After] gives the next page. A cursor is a position in that order
// ("<unix microseconds>.<event id>"), not an offset: rows written
// meanwhile never shift a page, a deep page costs an index seek rather than
// a scan of the pages before it, and a cursor from one store continues on
// the other.
//
// # Cost
//
// On Postgres a page is an index scan that stops after the page: a
// subject search reads the actor's and the target's indexes in order and
// merges them, and statements are planned for the values bound each time
// (a cached statement's generic plan can combine the workspace and user
// indexes over every row of the workspace). On ClickHouse, whose sort key
// is (workspace, action, time, event id), a page is read in two steps:
// its event ids and times from the narrow columns, newest first within
// the last day, week and month before the cursor (or Until, or now)
// before everything, then the whole rows of those ids only, within their
// time span. At ten million rows a page costs about a millisecond on
// Postgres and a few tens of milliseconds on ClickHouse (see the bench
// module's Search benchmarks).
//
// # Same answers from both stores
//
// For the same rows, both stores return the same records in the same
// order: times at microsecond precision (what Postgres keeps; ClickHouse's
// nanoseconds are cut), the event's fields, details and previous/new
// values decoded from their JSON into structured values (maps, slices,
// integers as int64), and attributes as strings (a string as it is, any
// other value as its JSON text: the form ClickHouse stores). Only
// [Record.IngestedAt] differs: ClickHouse does not keep it.
//
// ClickHouse may hold copies of an event that its ReplacingMergeTree has
// not merged yet; a search returns one, the first stored (the highest
// ingest_version), as the table will keep after the merge. A copy that
// changed the sort key (another time, workspace or action) is a row of
// its own there until a verification (schema/seal) reports it.
//
// # Following
//
// [Postgres.Follow] and [Postgres.Tail] deliver new rows in arrival order,
// each once, with a cursor that survives restarts and reconnections. They
// need migration 0005 of schema/pgschema: the arrival column holds the
// writing transaction's id (xid8), and a row is delivered once every
// transaction that started before its own has ended (it is below the
// snapshot's xmin), so that a transaction that commits late cannot slip a
// row behind the cursor. The price is a delay: a long transaction on the
// server holds back what Follow sees until it ends, and nothing is lost.
// Rows written before that migration have no arrival and are not
// followed.
//
// [ClickHouse.Follow] and [ClickHouse.Tail] do the same from what
// ClickHouse keeps: the insert's start by the server's clock
// (ingest_version; seconds in the compat layout). ClickHouse has no
// transaction ids, so a row is delivered once it arrived more than the
// follow lag ago ([WithFollowLag], default [DefaultFollowLag]): each row
// once provided that no insert lasts longer than the lag; and every poll
// reads the table without an index on the arrival. Postgres, the system
// of record, is the follower's store when no row may be missed.
//
// # Errors
//
// A filter or cursor that cannot be used is [ErrInvalidFilter] or
// [ErrInvalidCursor]. A missing table, database or column is
// [ErrNotMigrated], whose message says to run `otelaudit migrate`.
//
// # Roles
//
// Readers need SELECT only: pgschema.Options.ReaderRole in Postgres, and
// in ClickHouse a user with readonly = 1 (see schema/chschema's reader
// user). Nothing here writes.
package trail
