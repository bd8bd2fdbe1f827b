package mutation

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
)

// Status is what happened to one mutant of a gremlins run, in gremlins'
// own words.
type Status string

// The statuses of a gremlins run (not a dry run, not a --diff run).
const (
	Killed     Status = "KILLED"      // a test failed
	Lived      Status = "LIVED"       // every test passed: the mutant survived
	TimedOut   Status = "TIMED OUT"   // the tests ran out of time: counted as killed
	NotCovered Status = "NOT COVERED" // no test executes the line: not run
	NotViable  Status = "NOT VIABLE"  // the mutated code does not compile
)

// Mutant is one mutant of a gremlins run.
type Mutant struct {
	File    string // slash-separated path from the module root
	Line    int
	Column  int
	Mutator string // e.g. CONDITIONALS_BOUNDARY
	Status  Status
}

// String returns "file:line:column MUTATOR".
func (m Mutant) String() string {
	return m.File + ":" + strconv.Itoa(m.Line) + ":" + strconv.Itoa(m.Column) + " " + m.Mutator
}

// Summary is the outcome of mutation testing one package.
type Summary struct {
	// Package is the package's directory, slash-separated, relative to the
	// module root ("exporter/auditrow").
	Package string
	// Killed counts the mutants that made a test fail, TimedOut included.
	Killed int
	// Survived counts the mutants under which every test passed.
	Survived int
	// TimedOut counts the mutants whose tests ran out of time (they are
	// also in Killed).
	TimedOut int
	// NotCovered counts the mutants on lines no test executes: gremlins
	// does not run them, and they are not in the score.
	NotCovered int
	// NotViable counts the mutants that did not compile: not in the score.
	NotViable int
	// Survivors lists the surviving mutants by file, line, column, mutator.
	Survivors []Mutant
}

// Score is Killed / (Killed + Survived); ok is false when no mutant ran.
func (s Summary) Score() (score float64, ok bool) {
	if s.Killed+s.Survived == 0 {
		return 0, false
	}
	return float64(s.Killed) / float64(s.Killed+s.Survived), true
}

// Line is the summary line of the package:
//
//	mutation package=exporter/auditrow killed=72 survived=21 score=0.77 timed_out=1 not_covered=3 not_viable=0
//
// The score has two decimals, or is "n/a" when no mutant ran.
func (s Summary) Line() string {
	score := "n/a"
	if v, ok := s.Score(); ok {
		score = strconv.FormatFloat(v, 'f', 2, 64)
	}
	return fmt.Sprintf("mutation package=%s killed=%d survived=%d score=%s timed_out=%d not_covered=%d not_viable=%d",
		s.Package, s.Killed, s.Survived, score, s.TimedOut, s.NotCovered, s.NotViable)
}

// Write writes the summary line, then one "survived FILE:LINE:COLUMN
// MUTATOR" line per surviving mutant.
func (s Summary) Write(w io.Writer) error {
	if _, err := fmt.Fprintln(w, s.Line()); err != nil {
		return err
	}
	for _, m := range s.Survivors {
		if _, err := fmt.Fprintln(w, "survived", m.String()); err != nil {
			return err
		}
	}
	return nil
}

// gremlinsOutput is the part of the file written by `gremlins unleash -o`
// that is read here.
type gremlinsOutput struct {
	Files []struct {
		Name      string `json:"file_name"`
		Mutations []struct {
			Type   string `json:"type"`
			Status Status `json:"status"`
			Line   int    `json:"line"`
			Column int    `json:"column"`
		} `json:"mutations"`
	} `json:"files"`
}

// ReadGremlins summarises the JSON report of `gremlins unleash -o FILE DIR`
// run on the one package in directory pkg (relative to the module root,
// slash-separated). gremlins names files relative to the directory it ran
// on; the summary names them from the module root. A status other than
// the five above (a dry run, a --diff run, a newer gremlins) is an error,
// so that nothing is silently left out of the counts.
func ReadGremlins(r io.Reader, pkg string) (Summary, error) {
	var out gremlinsOutput
	if err := json.NewDecoder(r).Decode(&out); err != nil {
		return Summary{}, fmt.Errorf("mutation: read gremlins report of %s: %w", pkg, err)
	}
	s := Summary{Package: pkg}
	for _, f := range out.Files {
		for _, m := range f.Mutations {
			switch m.Status {
			case Killed:
				s.Killed++
			case TimedOut:
				s.Killed++
				s.TimedOut++
			case Lived:
				s.Survived++
				s.Survivors = append(s.Survivors, Mutant{
					File:    path.Join(pkg, f.Name),
					Line:    m.Line,
					Column:  m.Column,
					Mutator: m.Type,
					Status:  m.Status,
				})
			case NotCovered:
				s.NotCovered++
			case NotViable:
				s.NotViable++
			default:
				return Summary{}, fmt.Errorf("mutation: gremlins report of %s: %s:%d: unexpected status %q", pkg, f.Name, m.Line, m.Status)
			}
		}
	}
	slices.SortFunc(s.Survivors, func(a, b Mutant) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Column, b.Column), cmp.Compare(a.Mutator, b.Mutator))
	})
	return s, nil
}
