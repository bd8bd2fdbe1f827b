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
			if err := run(bytes.NewReader(raw), &out, &echo, []string{"ceiling", "direct"}); err != nil {
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
	err := run(strings.NewReader("PASS\nok  \tpkg\t0.1s\n"), &out, nil, []string{"direct"})
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
