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
	// Round tells the runs of a scenario apart: results with the same
	// Round were measured in the same run, and a scenario's ratio to its
	// ceiling is taken only between results of the same Round.
	Round Round
}

// Round identifies one run of a scenario: the Run-th run of a test binary
// in the input (counted from the "# round" and "pkg:" lines), and the
// Count-th result of that scenario within it (go test -count).
type Round struct {
	Run, Count int
}

// Parse reads go test output and returns its benchmark result lines, in
// order. Other lines are ignored.
func Parse(r io.Reader) ([]Result, error) {
	var results []Result
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	run := 0
	seen := make(map[string]int) // results per scenario in this run
	for sc.Scan() {
		line := sc.Text()
		if isRunStart(line) {
			run++
			clear(seen)
			continue
		}
		if res, ok := parseLine(line); ok {
			res.Round = Round{Run: run, Count: seen[res.Name]}
			seen[res.Name]++
			results = append(results, res)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading input: %w", err)
	}
	return results, nil
}

// isRunStart reports whether line starts a new run of a test binary:
// scripts/bench.sh's "# round i/N" line, or go test's "pkg:" header.
func isRunStart(line string) bool {
	return strings.HasPrefix(line, "# round ") || strings.HasPrefix(line, "pkg: ")
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
	name    string
	group   string
	leaf    string
	units   []string // in order of first appearance
	values  map[string][]float64
	samples []sample // in input order
}

// sample is one result of a scenario: its metrics by unit.
type sample struct {
	round  Round
	values map[string]float64
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

// primaryUnit is the unit s is compared by: its rate, or ns/op.
func (s *scenario) primaryUnit() string {
	if u := s.rateUnit(); u != "" {
		return u
	}
	return unitNsPerOp
}

// Ratios returns the ratio of s to ceiling in every round in which both
// ran and the ceiling's value is not 0, in s's order: s's primary metric
// (its rate, or ns/op) over the ceiling's.
func (s *scenario) ratios(ceiling *scenario) []float64 {
	unit := s.primaryUnit()
	var out []float64
	for _, a := range s.samples {
		v, ok := a.values[unit]
		if !ok {
			continue
		}
		for _, c := range ceiling.samples {
			if c.round != a.round {
				continue
			}
			if cv, ok := c.values[unit]; ok && cv != 0 {
				out = append(out, v/cv)
			}
			break
		}
	}
	return out
}

// Summarize returns one line per scenario, in order of first appearance,
// each with the median of its metrics and its ratio to the ceiling of its
// group, paired round by round (see the package documentation), and its
// ratio to each alternate ceiling of its group: a scenario whose leaf is
// one of alternates ("ceiling_native"). An alternate ceiling is never the
// group's ceiling, nor a variant of it.
func Summarize(results []Result, ceilings, alternates []string) []string {
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
		smp := sample{round: r.Round, values: make(map[string]float64, len(r.Metrics))}
		for _, m := range r.Metrics {
			if _, seen := s.values[m.Unit]; !seen {
				s.units = append(s.units, m.Unit)
			}
			s.values[m.Unit] = append(s.values[m.Unit], m.Value)
			smp.values[m.Unit] = m.Value
		}
		s.samples = append(s.samples, smp)
	}

	lines := make([]string, 0, len(order))
	for _, s := range order {
		lines = append(lines, format(s, ceilingOf(s, order, ceilings, alternates), alternatesOf(s, order, alternates)))
	}
	return lines
}

// alternatesOf returns the alternate ceilings of s's group other than s,
// in input order.
func alternatesOf(s *scenario, all []*scenario, alternates []string) []*scenario {
	var out []*scenario
	for _, c := range all {
		if c != s && c.group == s.group && c.leaf != "" && slices.Contains(alternates, c.leaf) {
			out = append(out, c)
		}
	}
	return out
}

// alternateKey is the ratio key of an alternate ceiling: "ratio_to_" and
// its leaf without a leading "ceiling_" ("ratio_to_native" for
// "ceiling_native").
func alternateKey(leaf string) string {
	return "ratio_to_" + metricKey(strings.TrimPrefix(leaf, "ceiling_"))
}

// ceilingOf returns the ceiling of s among all, or nil: the scenario of
// s's group whose leaf is one of ceilings followed by the variant suffix
// of s's leaf ("direct_dedup_off" for "bridge_dedup_off"), the longest
// such suffix first; else the one whose leaf is one of ceilings. Among
// several, the first in input order wins. A scenario whose leaf is one of
// alternates is never a ceiling.
func ceilingOf(s *scenario, all []*scenario, ceilings, alternates []string) *scenario {
	var best *scenario
	bestSuffix := -1
	for _, c := range all {
		if c.group != s.group || c.leaf == "" || slices.Contains(alternates, c.leaf) {
			continue
		}
		for _, name := range ceilings {
			suffix, ok := strings.CutPrefix(c.leaf, name)
			if !ok || (suffix != "" && (suffix[0] != '_' || !strings.HasSuffix(s.leaf, suffix))) {
				continue
			}
			if len(suffix) > bestSuffix {
				best, bestSuffix = c, len(suffix)
			}
		}
	}
	return best
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

// isRatio reports whether a reported unit is a ratio the benchmark took
// itself, between two scenarios of the same run ("ratio_to_stock").
func isRatio(unit string) bool {
	return strings.HasPrefix(unit, "ratio_")
}

func format(s, ceiling *scenario, alternates []*scenario) string {
	var b strings.Builder
	b.WriteString("scenario=")
	b.WriteString(s.name)
	field := func(unit string) {
		if v, ok := s.median(unit); ok {
			fmt.Fprintf(&b, " %s=%s", metricKey(unit), formatNumber(v))
		}
	}
	// The headline ratio is followed by ratio_min, ratio_max and the
	// ratio of every round; other ratios by <key>_min and <key>_max.
	headline := true
	ratio := func(key string, rs []float64) {
		if len(rs) == 0 {
			return
		}
		minKey, maxKey := key+"_min", key+"_max"
		if headline {
			minKey, maxKey = "ratio_min", "ratio_max"
		}
		fmt.Fprintf(&b, " %s=%.2f %s=%.2f %s=%.2f", key, median(rs), minKey, slices.Min(rs), maxKey, slices.Max(rs))
		if headline {
			b.WriteString(" ratio_rounds=")
			for i, r := range rs {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, "%.2f", r)
			}
		}
		headline = false
	}

	primary := s.primaryUnit()
	var own []string // the ratios the benchmark reported itself
	if primary == unitNsPerOp {
		// A per-operation benchmark.
		field(unitNsPerOp)
		field(unitAllocsPerOp)
	}
	for _, u := range s.units {
		switch {
		case isStandard(u) || u == primary:
		case isRatio(u):
			own = append(own, u)
		default:
			field(u)
		}
	}
	if primary != unitNsPerOp {
		// A throughput benchmark: its own metrics, the rate last.
		field(primary)
	}

	if ceiling != nil {
		ratio("ratio_to_ceiling", s.ratios(ceiling))
	}
	for _, a := range alternates {
		ratio(alternateKey(a.leaf), s.ratios(a))
	}
	for _, u := range own {
		ratio(metricKey(u), s.values[u])
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
