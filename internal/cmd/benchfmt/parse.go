package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Standard units of go test.
const (
	unitNsPerOp     = "ns/op"
	unitBytesPerOp  = "B/op"
	unitAllocsPerOp = "allocs/op"
	unitMBPerSec    = "MB/s"
)

// Metric is one value of a result line, with its unit.
type Metric struct {
	Unit  string
	Value float64
}

// Result is one benchmark result line.
type Result struct {
	// Name is the scenario: the benchmark name without "Benchmark" and
	// without the GOMAXPROCS suffix ("Emit/bridge").
	Name string
	// Iterations is the number of operations go test ran.
	Iterations int64
	// Metrics are the values in the order of the line.
	Metrics []Metric
}

// Parse reads go test output and returns its benchmark result lines, in
// order. Other lines are ignored.
func Parse(r io.Reader) ([]Result, error) {
	var results []Result
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		if res, ok := parseLine(sc.Text()); ok {
			results = append(results, res)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading input: %w", err)
	}
	return results, nil
}

// parseLine parses "BenchmarkName-N  iterations  value unit  value unit...".
func parseLine(line string) (Result, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || len(f)%2 != 0 || !strings.HasPrefix(f[0], "Benchmark") {
		return Result{}, false
	}
	n, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return Result{}, false
	}
	res := Result{Name: scenarioName(f[0]), Iterations: n}
	for i := 2; i < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return Result{}, false
		}
		res.Metrics = append(res.Metrics, Metric{Unit: f[i+1], Value: v})
	}
	return res, true
}

// scenarioName strips "Benchmark" and a trailing "-<digits>" from name.
func scenarioName(name string) string {
	name = strings.TrimPrefix(name, "Benchmark")
	if i := strings.LastIndexByte(name, '-'); i >= 0 && i < len(name)-1 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			name = name[:i]
		}
	}
	return name
}

// scenario gathers the results of one scenario.
type scenario struct {
	name   string
	group  string
	leaf   string
	units  []string // in order of first appearance
	values map[string][]float64
}

func (s *scenario) median(unit string) (float64, bool) {
	v := s.values[unit]
	if len(v) == 0 {
		return 0, false
	}
	return median(v), true
}

// rateUnit returns the unit of s's throughput rate: the first unit that
// ends in "/s", MB/s aside. It is "" for a per-operation benchmark.
func (s *scenario) rateUnit() string {
	for _, u := range s.units {
		if u != unitMBPerSec && strings.HasSuffix(u, "/s") {
			return u
		}
	}
	return ""
}

// Summarize returns one line per scenario, in order of first appearance,
// each with the median of its metrics and its ratio to the ceiling of its
// group (see the package documentation).
func Summarize(results []Result, ceilings []string) []string {
	var order []*scenario
	byName := make(map[string]*scenario)
	for _, r := range results {
		s := byName[r.Name]
		if s == nil {
			s = &scenario{name: r.Name, values: make(map[string][]float64)}
			s.group, s.leaf = splitName(r.Name)
			byName[r.Name] = s
			order = append(order, s)
		}
		for _, m := range r.Metrics {
			if _, seen := s.values[m.Unit]; !seen {
				s.units = append(s.units, m.Unit)
			}
			s.values[m.Unit] = append(s.values[m.Unit], m.Value)
		}
	}

	ceilingOf := make(map[string]*scenario)
	for _, s := range order {
		if s.leaf != "" && slices.Contains(ceilings, s.leaf) && ceilingOf[s.group] == nil {
			ceilingOf[s.group] = s
		}
	}

	lines := make([]string, 0, len(order))
	for _, s := range order {
		lines = append(lines, format(s, ceilingOf[s.group]))
	}
	return lines
}

// splitName returns the group and the last element of a scenario name;
// the leaf of a name without "/" is "".
func splitName(name string) (group, leaf string) {
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return name, ""
	}
	return name[:i], name[i+1:]
}

func format(s, ceiling *scenario) string {
	var b strings.Builder
	b.WriteString("scenario=")
	b.WriteString(s.name)
	field := func(unit string) {
		if v, ok := s.median(unit); ok {
			fmt.Fprintf(&b, " %s=%s", metricKey(unit), formatNumber(v))
		}
	}

	primary := s.rateUnit()
	if primary == "" {
		// A per-operation benchmark.
		primary = unitNsPerOp
		field(unitNsPerOp)
		field(unitAllocsPerOp)
		for _, u := range s.units {
			if !isStandard(u) {
				field(u)
			}
		}
	} else {
		// A throughput benchmark: its own metrics, the rate last.
		for _, u := range s.units {
			if !isStandard(u) && u != primary {
				field(u)
			}
		}
		field(primary)
	}

	if ceiling != nil {
		v, ok1 := s.median(primary)
		c, ok2 := ceiling.median(primary)
		if ok1 && ok2 && c != 0 {
			fmt.Fprintf(&b, " ratio_to_ceiling=%.2f", v/c)
		}
	}
	return b.String()
}

func isStandard(unit string) bool {
	switch unit {
	case unitNsPerOp, unitBytesPerOp, unitAllocsPerOp, unitMBPerSec:
		return true
	}
	return false
}

// metricKey turns a unit into a key: "ns/op" -> "ns_per_op".
func metricKey(unit string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(unit) {
		switch {
		case r == '/':
			b.WriteString("_per_")
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// formatNumber prints v without exponent: integers in full, other values
// rounded to six significant digits.
func formatNumber(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	r, err := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 6, 64), 64)
	if err != nil {
		r = v
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
