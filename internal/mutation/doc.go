// Package mutation is the project's mutation testing: it reads the reports
// of gremlins (github.com/go-gremlins/gremlins), the Go mutation tool, and
// holds the table of hand-written SQL mutants that no Go tool makes, with
// their runner. `make mutate` (scripts/mutate.sh) drives both, against
// the real Postgres and ClickHouse servers of scripts/with-services.sh. It
// is not part of `make test`: it runs a package's tests once per mutant.
//
// # Go mutants (gremlins)
//
// For each package, gremlins first runs the package's tests with coverage,
// then, for each mutant on a covered line (`<` turned into `<=`, `+` into
// `-`, `i++` into `i--`, ...), runs the package's own tests again on a copy
// of the module with that one change. A mutant is killed when a test fails,
// timed out when the tests run longer than ten times the coverage run
// (counted as killed), and survives when every test passes. Only the
// package's own tests count: a mutant of exporter/auditrow that only the
// exporters' tests would catch survives.
//
// [ReadGremlins] turns gremlins' JSON report into a [Summary], printed as
// one line per package and one line per surviving mutant:
//
//	mutation package=exporter/auditrow killed=72 survived=21 score=0.77 timed_out=1 not_covered=3 not_viable=0
//	survived exporter/auditrow/mapper.go:340:18 CONDITIONALS_BOUNDARY
//
// score is killed/(killed+survived). Not-covered mutants (no test runs the
// line) and not-viable ones (they do not compile) are reported and left out
// of the score. A survivor is either a missing test or an equivalent
// mutant: one that changes no observable behaviour (`i < n` and `i != n`
// in a loop that only counts up, a capacity hint, ...).
//
// # SQL mutants
//
// [SQLMutants] is a table of hand-written mutants of the SQL: a snippet of
// an embedded .sql file (or of SQL text in a Go file) and its replacement,
// each a bug a plausible edit could bring in (a boundary moved, a grant
// widened, a LIMIT 1 BY dropped, ...). A snippet must occur exactly once in
// its file; otherwise the table is broken, and both the runner and
// `make test` (TestSQLMutantsApplyOnce) fail, so the table cannot rot.
//
// The runner, TestSQLMutants (build tag mutation), first runs the
// packages the mutants name once as they are, which must pass; then, for
// each mutant,
// writes the mutated file to a temporary directory and runs the mutant's
// packages with `go test -overlay`, so that go:embed and the compiler read
// the mutated text while the work tree stays untouched. The tests in
// [TextPinningTests] (and examples) are skipped: they compare the SQL text and
// would kill every mutant without saying anything about behaviour. It
// prints
//
//	mutation sql=pg-delete-allowed killed by=./schema/pgschema:TestAppendOnly (4s)
//	mutation sql=ch-retention-boundary survived at=schema/chschema/retention.go:85 (7s)
//	mutation sql=total killed=18 survived=4 score=0.82
//
// and lists each survivor with what it lets through. Survivors do not fail
// the run; a snippet that does not match exactly once, a package that
// fails unmutated, or a mutant that does not compile does.
//
// Run a subset of the SQL mutants with
//
//	MUTANTS='^pg-' make mutate PKGS=sql
//
// (scripts/mutate.sh passes it on as the test flag -mutants).
package mutation
