// Command mutationreport prints the summary of a gremlins JSON report (see
// package internal/mutation): one "mutation package=..." line, then one
// "survived FILE:LINE:COLUMN MUTATOR" line per surviving mutant.
//
//	gremlins unleash -o report.json ./exporter/auditrow
//	go run ./internal/cmd/mutationreport -package exporter/auditrow report.json
//
// -package is the directory gremlins ran on, relative to the module root;
// it names the package and prefixes the file names. scripts/mutate.sh
// (make mutate) runs it. It exits with status 1 when the report cannot be
// read.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/otelaudit/otelaudit/internal/mutation"
)

func main() {
	pkg := flag.String("package", "", "the `dir` gremlins ran on, relative to the module root (required)")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: mutationreport -package DIR REPORT.json")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *pkg == "" || flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*pkg, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "mutationreport:", err)
		os.Exit(1)
	}
}

func run(pkg, report string) error {
	f, err := os.Open(report)
	if err != nil {
		return err
	}
	defer f.Close()
	s, err := mutation.ReadGremlins(f, pkg)
	if err != nil {
		return err
	}
	return s.Write(os.Stdout)
}
