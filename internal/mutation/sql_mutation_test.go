//go:build mutation

package mutation_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otelaudit/otelaudit/internal/mutation"
)

var (
	onlyMutants = flag.String("mutants", "", "run only the SQL mutants whose ID matches this `regexp`")
	pkgTimeout  = flag.Duration("mutants.timeout", 10*time.Minute, "go test -timeout for one package under one mutant")
)

// outcome is what one package run under one mutant (or none) gave.
type outcome struct {
	failed    bool
	test      string // the first failed top-level test, or "timeout"
	buildFail bool
	output    []byte
}

// TestSQLMutants runs every SQL mutant of the table against its packages'
// tests and prints one report line per mutant and a summary (see the
// package doc). Survivors are reported, not failed.
func TestSQLMutants(t *testing.T) {
	root := moduleRoot(t)
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to run the mutants: %v", err)
	}
	var filter *regexp.Regexp
	if *onlyMutants != "" {
		if filter, err = regexp.Compile(*onlyMutants); err != nil {
			t.Fatalf("-mutants: %v", err)
		}
	}

	type prepared struct {
		m       mutation.SQLMutant
		line    int
		overlay string
	}
	var todo []prepared
	var pkgs []string
	for _, m := range mutation.SQLMutants {
		src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(m.File)))
		if err != nil {
			t.Fatalf("sql mutant %s: %v", m.ID, err)
		}
		mutated, line, err := m.Apply(src)
		if err != nil {
			t.Fatal(err) // the table is broken: fix it before anything runs
		}
		if filter != nil && !filter.MatchString(m.ID) {
			continue
		}
		overlay := writeOverlay(t, root, m, mutated)
		todo = append(todo, prepared{m: m, line: line, overlay: overlay})
		for _, p := range m.Packages {
			if !slices.Contains(pkgs, p) {
				pkgs = append(pkgs, p)
			}
		}
	}
	if len(todo) == 0 {
		t.Fatalf("no SQL mutant matches -mutants %q", *onlyMutants)
	}

	// Unmutated, every package must pass: otherwise every mutant would look
	// killed.
	for _, p := range pkgs {
		if o := runPackage(t, goBin, root, p, ""); o.failed {
			t.Fatalf("%s fails without any mutant (%s): fix it first\n%s", p, o.test, o.output)
		}
	}

	var killed, survived int
	var survivors []string
	for _, pm := range todo {
		m := pm.m
		start := time.Now()
		by := ""
		for _, p := range m.Packages {
			o := runPackage(t, goBin, root, p, pm.overlay)
			if o.buildFail {
				t.Errorf("sql mutant %s does not build in %s: fix the table\n%s", m.ID, p, o.output)
				by = "build"
				break
			}
			if o.failed {
				by = p + ":" + o.test
				break
			}
		}
		took := time.Since(start).Round(time.Second)
		at := m.File + ":" + strconv.Itoa(pm.line)
		switch by {
		case "build":
			fmt.Printf("mutation sql=%s not_viable at=%s\n", m.ID, at)
		case "":
			survived++
			survivors = append(survivors, fmt.Sprintf("survived sql=%s %s: %s", m.ID, at, m.Why))
			fmt.Printf("mutation sql=%s survived at=%s (%s)\n", m.ID, at, took)
		default:
			killed++
			fmt.Printf("mutation sql=%s killed by=%s (%s)\n", m.ID, by, took)
		}
	}
	score := "n/a"
	if killed+survived > 0 {
		score = strconv.FormatFloat(float64(killed)/float64(killed+survived), 'f', 2, 64)
	}
	fmt.Printf("mutation sql=total killed=%d survived=%d score=%s\n", killed, survived, score)
	for _, s := range survivors {
		fmt.Println(s)
	}
}

// runPackage runs go test on one package, with the overlay file if it is
// not empty, and the text-pinning tests skipped.
func runPackage(t *testing.T, goBin, root, pkg, overlay string) outcome {
	t.Helper()
	args := []string{"test", "-count=1", "-failfast", "-timeout=" + pkgTimeout.String(), "-skip=" + mutation.TextPinningTests}
	if overlay != "" {
		args = append(args, "-overlay="+overlay)
	}
	args = append(args, pkg)
	cmd := exec.Command(goBin, args...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	o := outcome{output: out}
	if err == nil {
		return o
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("go test %s: %v", pkg, err)
	}
	o.failed = true
	o.buildFail = bytes.Contains(out, []byte("[build failed]")) || bytes.Contains(out, []byte("[setup failed]"))
	o.test = firstFailedTest(out)
	return o
}

// failLine is a top-level test's failure line in go test's output.
var failLine = regexp.MustCompile(`(?m)^--- FAIL: (\S+)`)

// firstFailedTest names the first top-level test that failed in out,
// "timeout" when the package timed out, or "fail" when no test is named
// (TestMain, a panic outside a test, goleak).
func firstFailedTest(out []byte) string {
	if bytes.Contains(out, []byte("panic: test timed out after")) {
		return "timeout"
	}
	if m := failLine.FindSubmatch(out); m != nil {
		return string(m[1])
	}
	return "fail"
}

// writeOverlay writes the mutated file and a go build overlay that puts it
// in place of the original, and returns the overlay's path.
func writeOverlay(t *testing.T, root string, m mutation.SQLMutant, mutated []byte) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), m.ID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, filepath.Base(m.File))
	if err := os.WriteFile(file, mutated, 0o644); err != nil {
		t.Fatal(err)
	}
	overlay, err := json.Marshal(map[string]map[string]string{
		"Replace": {filepath.Join(root, filepath.FromSlash(m.File)): file},
	})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(path, overlay, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// moduleRoot is the directory of the module's go.mod (the test runs in
// internal/mutation).
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil || !strings.HasPrefix(string(mod), "module github.com/otelaudit/otelaudit\n") {
		t.Fatalf("%s is not the otelaudit module root (%v)", root, err)
	}
	return root
}
