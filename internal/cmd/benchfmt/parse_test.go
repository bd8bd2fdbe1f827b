package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestGolden runs benchfmt on every testdata/*.txt and compares its output
// with the matching .golden file.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) == 0 {
		t.Fatal("no testdata/*.txt")
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".txt")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var out, echo bytes.Buffer
			if err := run(bytes.NewReader(raw), &out, &echo, []string{"ceiling", "direct"}, []string{"ceiling_native", "ceiling_parallel"}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(echo.Bytes(), raw) {
				t.Errorf("passthrough copied %d bytes of %d", echo.Len(), len(raw))
			}
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got := out.String(); got != string(want) {
				t.Errorf("output differs from %s (go test -update rewrites it)\ngot:\n%swant:\n%s", golden, got, want)
			}
		})
	}
}

func TestRunNoResults(t *testing.T) {
	var out bytes.Buffer
	err := run(strings.NewReader("PASS\nok  \tpkg\t0.1s\n"), &out, nil, []string{"direct"}, nil)
	if err == nil {
		t.Fatalf("no error for input without results; output %q", out.String())
	}
}

func TestParseLine(t *testing.T) {
	tests := []struct {
		line    string
		ok      bool
		name    string
		n       int64
		metrics []Metric
	}{
		{"BenchmarkEmit/bridge-8   \t  100\t  12.5 ns/op\t 3 allocs/op", true, "Emit/bridge", 100,
			[]Metric{{"ns/op", 12.5}, {"allocs/op", 3}}},
		{"BenchmarkEmit/bridge   \t  100\t  12.5 ns/op", true, "Emit/bridge", 100, []Metric{{"ns/op", 12.5}}},
		{"BenchmarkExport/ceiling-2 1 100000 events 2.5 seconds 40000 events/s", true, "Export/ceiling", 1,
			[]Metric{{"events", 100000}, {"seconds", 2.5}, {"events/s", 40000}}},
		{"BenchmarkEmit/bridge-8", false, "", 0, nil},          // name only (output interleaved)
		{"BenchmarkEmit/bridge-8 100 12.5", false, "", 0, nil}, // value without unit
		{"BenchmarkEmit/bridge-8 many 12.5 ns/op", false, "", 0, nil},
		{"BenchmarkEmit/bridge-8 100 fast ns/op", false, "", 0, nil},
		{"--- BENCH: BenchmarkEmit/bridge-8", false, "", 0, nil},
		{"ok  \tgithub.com/x\t1.0s", false, "", 0, nil},
	}
	for _, tt := range tests {
		got, ok := parseLine(tt.line)
		if ok != tt.ok || got.Name != tt.name || got.Iterations != tt.n || !slices.Equal(got.Metrics, tt.metrics) {
			t.Errorf("parseLine(%q) = %+v, %v; want name %q, %d iterations, metrics %v, %v", tt.line, got, ok, tt.name, tt.n, tt.metrics, tt.ok)
		}
	}
}

func TestScenarioName(t *testing.T) {
	tests := map[string]string{
		"BenchmarkEmit/bridge-8":  "Emit/bridge",
		"BenchmarkEmit/bridge":    "Emit/bridge",
		"BenchmarkEmit-16":        "Emit",
		"BenchmarkEmit/a-b-2":     "Emit/a-b",
		"BenchmarkEmit/trailing-": "Emit/trailing-",
		"BenchmarkEmit/x#01-2":    "Emit/x#01",
	}
	for in, want := range tests {
		if got := scenarioName(in); got != want {
			t.Errorf("scenarioName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMetricKey(t *testing.T) {
	tests := map[string]string{
		"ns/op":     "ns_per_op",
		"allocs/op": "allocs_per_op",
		"events/s":  "events_per_s",
		"MB/s":      "mb_per_s",
		"rows-µs":   "rows__s",
		"seconds":   "seconds",
	}
	for in, want := range tests {
		if got := metricKey(in); got != want {
			t.Errorf("metricKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFormatNumber(t *testing.T) {
	tests := map[float64]string{
		0:            "0",
		12120:        "12120",
		12515.5:      "12515.5",
		100000:       "100000",
		2.4390001:    "2.439",
		0.1234:       "0.1234",
		0.0000123456: "0.0000123456",
		1234567.89:   "1234570",
		-3.5:         "-3.5",
	}
	for in, want := range tests {
		if got := formatNumber(in); got != want {
			t.Errorf("formatNumber(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{[]float64{5}, 5},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{10, 10, 1000, 9, 11}, 10},
	}
	for _, tt := range tests {
		orig := append([]float64(nil), tt.in...)
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
		for i := range orig {
			if orig[i] != tt.in[i] {
				t.Errorf("median reordered its input: %v", tt.in)
				break
			}
		}
	}
}

// fields returns the key=value fields of a summary line.
func fields(line string) map[string]string {
	m := make(map[string]string)
	for _, f := range strings.Fields(line) {
		k, v, _ := strings.Cut(f, "=")
		m[k] = v
	}
	return m
}

// TestSummarizeRatioPerRound checks that a scenario is divided by its
// ceiling round by round, not median by median, and that the summary
// carries the median, the smallest and the largest of those ratios and
// each round's ratio in input order.
func TestSummarizeRatioPerRound(t *testing.T) {
	// Medians taken separately would give 100/100 = 1.00; the rounds give
	// 0.50, 1.50, 1.00 (exporter / ceiling) and the median 1.00 is not the
	// point: the spread is. Round 4 has no ceiling (it failed) and round 5
	// no exporter: neither yields a ratio.
	in := `# round 1/5
pkg: example.com/bench
BenchmarkInsert/exporter-2 1 50 events/s
BenchmarkInsert/ceiling-2 1 100 events/s
# round 2/5
pkg: example.com/bench
BenchmarkInsert/exporter-2 1 150 events/s
BenchmarkInsert/ceiling-2 1 100 events/s
# round 3/5
pkg: example.com/bench
BenchmarkInsert/exporter-2 1 120 events/s
BenchmarkInsert/ceiling-2 1 120 events/s
# round 4/5
pkg: example.com/bench
BenchmarkInsert/exporter-2 1 100 events/s
# round 5/5
pkg: example.com/bench
BenchmarkInsert/ceiling-2 1 10 events/s
`
	results, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	lines := Summarize(results, []string{"ceiling"}, nil)
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2: %q", len(lines), lines)
	}
	got := fields(lines[0])
	want := map[string]string{
		"scenario":         "Insert/exporter",
		"events_per_s":     "110", // median of 50, 150, 120, 100
		"ratio_to_ceiling": "1.00",
		"ratio_min":        "0.50",
		"ratio_max":        "1.50",
		"ratio_rounds":     "0.50,1.50,1.00",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q (line %q)", k, got[k], v, lines[0])
		}
	}
	if c := fields(lines[1]); c["ratio_min"] != "1.00" || c["ratio_max"] != "1.00" || c["ratio_rounds"] != "1.00,1.00,1.00,1.00" {
		t.Errorf("ceiling line %q, want its own ratio 1.00 in each of its 4 rounds", lines[1])
	}
}

// TestSummarizeCountPairing checks the pairing of go test -count output,
// where every run of one scenario comes before the next scenario's: the
// k-th result of a scenario is paired with the k-th of its ceiling.
func TestSummarizeCountPairing(t *testing.T) {
	in := `pkg: example.com/bench
BenchmarkEmit/bridge-2 100 30 ns/op
BenchmarkEmit/bridge-2 100 10 ns/op
BenchmarkEmit/direct-2 100 10 ns/op
BenchmarkEmit/direct-2 100 20 ns/op
`
	results, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	got := fields(Summarize(results, []string{"direct"}, nil)[0])
	if got["ratio_rounds"] != "3.00,0.50" || got["ratio_to_ceiling"] != "1.75" || got["ratio_min"] != "0.50" || got["ratio_max"] != "3.00" {
		t.Errorf("bridge: %v, want rounds 3.00,0.50, median 1.75, min 0.50, max 3.00", got)
	}
}

// TestSummarizeOwnRatios checks ratios a benchmark reports itself
// (ratio_to_*): the median, smallest and largest over the rounds; when
// the group has no ceiling the first of them is the line's headline ratio
// and carries ratio_min and ratio_max.
func TestSummarizeOwnRatios(t *testing.T) {
	in := `# round 1/3
BenchmarkDelivery/emit_recommended-2 100 8 ns/op 0.8 ratio_to_stock
# round 2/3
BenchmarkDelivery/emit_recommended-2 100 9 ns/op 1.2 ratio_to_stock
# round 3/3
BenchmarkDelivery/emit_recommended-2 100 7 ns/op 0.9 ratio_to_stock
`
	results, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	line := Summarize(results, []string{"ceiling"}, nil)[0]
	got := fields(line)
	want := map[string]string{"ns_per_op": "8", "ratio_to_stock": "0.90", "ratio_min": "0.80", "ratio_max": "1.20", "ratio_rounds": "0.80,1.20,0.90"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q (line %q)", k, got[k], v, line)
		}
	}
}

// TestCeilingOf checks which scenario is the ceiling of which: a variant
// ("_dedup_off") of the ceiling is the ceiling of the same variant of the
// others, and the plain ceiling of the rest.
func TestCeilingOf(t *testing.T) {
	var all []*scenario
	for _, name := range []string{"Emit/bridge", "Emit/bridge_dedup_off", "Emit/direct", "Emit/direct_dedup_off", "Emit/bridge_any", "Other/x"} {
		s := &scenario{name: name}
		s.group, s.leaf = splitName(name)
		all = append(all, s)
	}
	want := map[string]string{
		"Emit/bridge":           "Emit/direct",
		"Emit/bridge_dedup_off": "Emit/direct_dedup_off",
		"Emit/direct":           "Emit/direct",
		"Emit/direct_dedup_off": "Emit/direct_dedup_off",
		"Emit/bridge_any":       "Emit/direct",
		"Other/x":               "",
	}
	for _, s := range all {
		c := ceilingOf(s, all, []string{"ceiling", "direct"}, nil)
		got := ""
		if c != nil {
			got = c.name
		}
		if got != want[s.name] {
			t.Errorf("ceiling of %s = %q, want %q", s.name, got, want[s.name])
		}
	}
}

// TestSummarizeAlternateCeilings checks the second ceilings of a group:
// every other scenario of the group gets its ratio to each, paired round
// by round, after ratio_to_ceiling and with <key>_min and <key>_max; an
// alternate ceiling is measured against the plain ceiling, never against
// itself, and is never the ceiling of a "_native" scenario.
func TestSummarizeAlternateCeilings(t *testing.T) {
	in := `# round 1/2
BenchmarkInsert/exporter-2 1 100 events/s
BenchmarkInsert/ceiling-2 1 200 events/s
BenchmarkInsert/ceiling_native-2 1 400 events/s
BenchmarkInsert/export_native-2 1 100 events/s
# round 2/2
BenchmarkInsert/exporter-2 1 150 events/s
BenchmarkInsert/ceiling-2 1 200 events/s
BenchmarkInsert/ceiling_native-2 1 250 events/s
BenchmarkInsert/export_native-2 1 100 events/s
`
	results, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	lines := Summarize(results, []string{"ceiling"}, []string{"ceiling_native", "ceiling_parallel"})
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4: %q", len(lines), lines)
	}
	cases := []struct {
		line int
		want map[string]string
	}{
		{0, map[string]string{"ratio_to_ceiling": "0.62", "ratio_rounds": "0.50,0.75", "ratio_to_native": "0.42", "ratio_to_native_min": "0.25", "ratio_to_native_max": "0.60"}},
		{1, map[string]string{"ratio_to_ceiling": "1.00", "ratio_to_native": "0.65", "ratio_to_native_min": "0.50", "ratio_to_native_max": "0.80"}},
		{2, map[string]string{"ratio_to_ceiling": "1.62", "ratio_min": "1.25", "ratio_max": "2.00", "ratio_to_native": ""}},
		{3, map[string]string{"ratio_to_ceiling": "0.50", "ratio_to_native": "0.33"}},
	}
	for _, c := range cases {
		got := fields(lines[c.line])
		for k, v := range c.want {
			if got[k] != v {
				t.Errorf("%s = %q, want %q (line %q)", k, got[k], v, lines[c.line])
			}
		}
	}
}
