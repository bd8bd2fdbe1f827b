package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	ceilings := flag.String("ceiling", "ceiling,direct", "comma-separated `names` of the sub-benchmark that is the ceiling of its group")
	alternates := flag.String("alternate", "ceiling_native,ceiling_parallel", "comma-separated `names` of sub-benchmarks that are a second ceiling of their group")
	passthrough := flag.Bool("passthrough", false, "copy every input line to standard error as it is read")
	flag.Parse()

	var echo io.Writer
	if *passthrough {
		echo = os.Stderr
	}
	if err := run(os.Stdin, os.Stdout, echo, strings.Split(*ceilings, ","), strings.Split(*alternates, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "benchfmt:", err)
		os.Exit(1)
	}
}

// run reads go test output from in, copying it to echo if echo is not nil,
// and writes the summary to out.
func run(in io.Reader, out, echo io.Writer, ceilings, alternates []string) error {
	if echo != nil {
		in = io.TeeReader(in, echo)
	}
	results, err := Parse(in)
	if err != nil {
		return err
	}
	if len(results) == 0 {
		return fmt.Errorf("no benchmark results in the input")
	}
	w := bufio.NewWriter(out)
	for _, line := range Summarize(results, ceilings, alternates) {
		fmt.Fprintln(w, line)
	}
	return w.Flush()
}
