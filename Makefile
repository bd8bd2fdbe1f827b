# otelaudit: one test command.
#
#   make test           gofmt check, go vet, then go test -race in the root
#                       module and every nested module (bench/,
#                       exporter/autoexport/), with
#                       throwaway Postgres and ClickHouse servers
#                       (scripts/with-services.sh) on PostgreSQL 15; then
#                       the packages that use Postgres (PG_SUITES) again on
#                       PostgreSQL 18 (scripts/postgres18.sh) with a session
#                       time zone other than UTC (PG_TIMEZONE); then the
#                       ClickHouse suites again on ClickHouse 26.5 (chDB;
#                       make test-chdb). This is what CI runs.
#   make test-chdb      the ClickHouse suites among PKGS on ClickHouse 26.5
#                       only (chDB, embedded; scripts/chdb.sh installs it
#                       into ~/.cache/otelaudit), plus 18.16 servers for the
#                       tests that need a network server
#   make lint           gofmt check + go vet, no services
#   make demo           the pipeline as deployed, on throwaway servers: three
#                       services -> OTLP -> the collector -> Postgres and
#                       ClickHouse -> the query pack's answers
#                       (scripts/demo.sh, examples/demo)
#   make bench          benchmarks against their ceilings and peers, with
#                       throwaway servers; prints scenario=... lines
#   make mutate         mutation testing (slow, not part of make test or CI):
#                       gremlins mutates the Go code of bridge, exporter/
#                       auditrow, postgreslog, clickhouselog and schema/...
#                       and runs each package's tests per mutant; then the
#                       hand-written SQL mutants (internal/mutation). Prints
#                       mutation package=... and mutation sql=... lines and
#                       every surviving mutant. Throwaway servers.
#                       Subset: make mutate PKGS=./bridge (or PKGS=sql)
#   make services-up    start servers for interactive work; then
#                       eval "$$(scripts/services.sh env)" in your shell
#   make services-down  stop them
#
# Variables: GO, GOTEST_FLAGS (default: -race -count=1 -timeout 20m),
# PKGS (default ./...; for make mutate, the packages above and sql), e.g.
# make test PKGS=./internal/testenv/, PG_TIMEZONE (default Asia/Tokyo).

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test

GO ?= go
GOTEST_FLAGS ?= -race -count=1 -timeout 20m
PKGS ?= ./...
# The packages that use Postgres among PKGS run a second time, on
# PostgreSQL 18 (the first run is on Debian's 15) and with this session time
# zone (PGTZ, which pgx reads), so that nothing they check depends on the
# server's major version or on the session's zone being UTC.
PG_TIMEZONE ?= Asia/Tokyo
PG_SUITES := schema/pgschema|exporter/postgreslog|schema/seal|exporter/pipeline|exporter/journal|bridge|internal/testenv

# make mutate runs these unless PKGS is given; the slowest last.
MUTATE_PKGS := ./bridge ./exporter/auditrow ./exporter/clickhouselog ./schema/... sql ./exporter/postgreslog

.PHONY: test test-chdb lint fmt-check vet go-test bench demo mutate services-up services-down

test: lint
	scripts/with-services.sh scripts/each-module.sh $(GO) test $(GOTEST_FLAGS) $(PKGS)
	@pg="$$($(GO) list $(PKGS) 2>/dev/null | grep -E '/($(PG_SUITES))$$' || true)"; \
	if [ -n "$$pg" ]; then \
		pg18="$$(scripts/postgres18.sh)"; \
		echo "==> the Postgres suites again on PostgreSQL 18, session time zone $(PG_TIMEZONE) (PGTZ)" >&2; \
		OTELAUDIT_PG_BIN="$$pg18" PGTZ=$(PG_TIMEZONE) scripts/with-services.sh $(GO) test $(GOTEST_FLAGS) $$pg; \
	fi
	@$(MAKE) --no-print-directory test-chdb

# The ClickHouse suites among PKGS run a second time on ClickHouse 26.5:
# chDB, the engine embedded as a library (scripts/chdb.sh installs it into
# a cache), through internal/chdbconn, with the build tag chdb and
# OTELAUDIT_CLICKHOUSE_ENGINE=chdb. Tests that open their own connection
# from a DSN, and private servers, still use 18.16 (with-services.sh).
CHDB_PKGS_RE := /(schema/chschema|exporter/clickhouselog|schema/seal|bridge|internal/chdbconn|cmd/otelaudit|trail)$$

test-chdb:
	@ch="$$($(GO) list $(PKGS) 2>/dev/null | grep -E '$(CHDB_PKGS_RE)' || true)"; \
	if [ -n "$$ch" ]; then \
		lib="$$(scripts/chdb.sh lib)"; \
		echo "==> the ClickHouse suites again on ClickHouse 26.5 (chDB: $$lib)" >&2; \
		$(GO) vet -tags chdb ./internal/chdbconn ./internal/testenv; \
		CHDB_LIB_PATH="$$lib" OTELAUDIT_CLICKHOUSE_ENGINE=chdb \
			scripts/with-services.sh $(GO) test -tags chdb $(GOTEST_FLAGS) $$ch; \
	fi

lint: fmt-check vet

# gofmt -l over every .go file outside .git, .services, vendor and testdata.
fmt-check:
	@files=$$(find . \( -name .git -o -name .services -o -name vendor -o -name testdata -o -name node_modules \) -prune \
		-o -name '*.go' -type f -print0 | xargs -0r gofmt -l); \
	if [ -n "$$files" ]; then \
		echo "gofmt: these files need formatting (run gofmt -w):" >&2; \
		echo "$$files" >&2; \
		exit 1; \
	fi; \
	echo "gofmt: ok" >&2

vet:
	scripts/each-module.sh $(GO) vet $(PKGS)

# go test without starting services: integration tests skip (or fail with CI=true).
go-test:
	scripts/each-module.sh $(GO) test $(GOTEST_FLAGS) $(PKGS)

bench:
	scripts/bench.sh
	scripts/bench-collector.sh

demo:
	GO=$(GO) scripts/demo.sh

mutate:
	scripts/with-services.sh scripts/mutate.sh $(if $(filter file,$(origin PKGS)),$(MUTATE_PKGS),$(PKGS))

services-up:
	scripts/services.sh start
	@echo 'services up; in your shell: eval "$$(scripts/services.sh env)"' >&2

services-down:
	scripts/services.sh stop

# make collector: build the Collector distribution (cmd/otelaudit-collector,
# its own module) into bin/otelaudit-collector.
.PHONY: collector
collector:
	cd cmd/otelaudit-collector && $(GO) build -o ../../bin/otelaudit-collector .
