// Command benchfmt summarises `go test -bench` output as one line per
// scenario, with each scenario's ratio to the ceiling of its group.
//
// It reads the output of go test on standard input and, at the end of
// input, prints the summary lines on standard output. With -passthrough it
// also copies every input line to standard error as it arrives, so that a
// long run shows progress. It exits with status 1 when the input holds no
// benchmark result.
//
//	cd bench && go test -run '^$' -bench . -count 5 | go run ../internal/cmd/benchfmt -passthrough
//
// scripts/bench.sh (make bench) runs it.
//
// # Scenarios and groups
//
// A scenario is a benchmark result line's name without the "Benchmark"
// prefix and without the "-N" GOMAXPROCS suffix: BenchmarkEmit/bridge-8 is
// the scenario "Emit/bridge". (A name that ends in "-<digits>" of its own
// loses that suffix too, as with golang.org/x/perf/benchfmt; do not name
// sub-benchmarks that way, and use a single -cpu value.)
//
// Scenarios are told apart by name alone, across packages.
//
// A scenario's group is its name up to the last "/": "Emit/bridge",
// "Emit/direct" and "Emit/otelslog" form the group "Emit". The ceiling of a
// group is the scenario whose last name element is one of the -ceiling
// names, "ceiling" or "direct" by default: the best that can be done, the
// yardstick the others are measured against. A variant of the ceiling,
// its name followed by "_" and a suffix ("direct_dedup_off"), is the
// ceiling of the scenarios of the group whose names end in the same suffix
// ("bridge_dedup_off"); the others keep the plain ceiling. A group without
// a ceiling gets no ratios.
//
// A scenario that ran more than once (go test -count, or the same scenario
// in several runs concatenated on the input) is summarised by the median of
// each metric, taken separately.
//
// # Rounds and ratios
//
// Ratios are never taken between medians. A scenario is divided by its
// ceiling round by round: its result in one run of the test binary (a run
// starts at scripts/bench.sh's "# round i/N" line or at go test's "pkg:"
// header) is paired with the ceiling's result in the same run, and with
// go test -count, the k-th result of the scenario with the k-th of the
// ceiling. A round in which either did not run (or failed) gives no
// ratio. The line then carries
//
//	ratio_to_ceiling=0.83 ratio_min=0.71 ratio_max=0.96 ratio_rounds=0.83,0.71,0.96,0.80,0.88
//
// the median of the rounds' ratios, the smallest and the largest, and
// every round's ratio in input order. A benchmark may also report ratios
// of its own, taken between two scenarios of the same run, under a unit
// that starts with "ratio_" (b.ReportMetric(v, "ratio_to_stock")): they
// are summarised the same way. The first ratio of a line (ratio_to_ceiling
// when the group has a ceiling) is followed by ratio_min, ratio_max and
// ratio_rounds; any further ratio by <key>_min and <key>_max.
//
// # Alternate ceilings
//
// A group may have a second yardstick besides its ceiling: a scenario
// whose last name element is one of the -alternate names
// ("ceiling_native" and "ceiling_parallel" by default). Every other
// scenario of the group gets its ratio to it, paired round by round like
// ratio_to_ceiling and printed after it, under the key ratio_to_ followed
// by the name without a leading "ceiling_" (ratio_to_native), with
// <key>_min and <key>_max. An alternate ceiling is never the group's
// ceiling, nor a variant of it (ceiling_native is not the ceiling of a
// scenario named "..._native"): its own line carries its ratio to the
// plain ceiling.
//
// # Per-operation benchmarks
//
// An ordinary benchmark (b.ReportAllocs, one operation per b.Loop
// iteration) is printed as
//
//	scenario=Emit/bridge ns_per_op=1234 allocs_per_op=9 ratio_to_ceiling=1.04 ratio_min=0.98 ratio_max=1.12 ratio_rounds=1.04,0.98,1.12
//
// where ratio_to_ceiling is the scenario's ns_per_op divided by the
// ceiling's: 1.20 means 20% slower than the ceiling.
//
// # Throughput benchmarks
//
// A benchmark that moves many events per run (an exporter writing to a
// database, say) reports its own metrics with b.ReportMetric:
//
//	b.ReportMetric(float64(events), "events")
//	b.ReportMetric(elapsed.Seconds(), "seconds")
//	b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
//	b.ReportMetric(0, "ns/op") // optional: hides the meaningless ns/op
//
// Any reported unit that ends in "/s" (other than go test's own MB/s) marks a
// throughput benchmark and is its rate; "events/s" is the convention. Its
// line holds the metrics it reported, the rate last, and the ratio of its
// rate to the ceiling's rate:
//
//	scenario=Export/postgres events=100000 seconds=2.5 events_per_s=40000 ratio_to_ceiling=0.80 ratio_min=0.74 ratio_max=0.85 ratio_rounds=0.80,0.74,0.85
//
// Here 0.80 means 80% of the ceiling's throughput. Name the ceiling
// sub-benchmark "ceiling" (the raw write path without the code under test,
// for instance a bare COPY of the same rows), or pick another name with
// -ceiling.
//
// # Metric names
//
// Units become keys by lower-casing them, turning "/" into "_per_" and any
// other character that is not a letter or digit into "_": "ns/op" is
// ns_per_op, "events/s" is events_per_s. Per-operation lines print
// ns_per_op, allocs_per_op and then any custom metrics in the order go test
// prints them (sorted by unit), the ratios last; B/op and MB/s stay in the
// raw output.
// Numbers are printed without exponent (integers in full, other values to
// six significant digits); ratios with two decimals.
package main
