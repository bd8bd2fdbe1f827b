package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Progress is shown this often on a terminal (one line redrawn in place),
// and as a plain line at most this often otherwise.
const (
	liveInterval  = 200 * time.Millisecond
	plainInterval = 2 * time.Second
)

// load waits until every service has run its workload, reported what it
// recorded (want events in all), and exited cleanly, and both stores hold
// exactly that many rows; it shows the progress meanwhile: the records the
// collector has accepted (its metrics at metricsURL; else what the
// services report), those in its sending queue, and the rows stored.
func load(ctx context.Context, cfg config, st *stores, services []*service, want int, metricsURL string) error {
	began := time.Now()
	client := &http.Client{Timeout: time.Second}
	interval := plainInterval
	if cfg.Live {
		interval = liveInterval
	}
	tick := time.NewTicker(liveInterval)
	defer tick.Stop()
	var lastLine string
	var lastShown time.Time
	show := func(line string, final bool) {
		switch {
		case cfg.Live:
			fmt.Fprintf(cfg.Out, "\r\x1b[K%s", line)
			if final {
				fmt.Fprintln(cfg.Out)
			}
		case final || (line != lastLine && time.Since(lastShown) >= interval):
			fmt.Fprintln(cfg.Out, line)
			lastShown = time.Now()
		}
		lastLine = line
	}
	// endLine ends the line redrawn in place, before an error.
	endLine := func() {
		if cfg.Live && lastLine != "" {
			fmt.Fprintln(cfg.Out)
		}
	}

	for {
		sent, exited := 0, 0
		var building []string
		for _, s := range services {
			if s.proc == nil {
				select {
				case <-s.build.done:
				default:
					building = append(building, s.name)
					continue
				}
				if s.build.err != nil {
					endLine()
					return s.build.err
				}
				var err error
				if s.proc, err = start(s.name, s.cmd, s.line); err != nil {
					endLine()
					return err
				}
				show(fmt.Sprintf("    %s built in %s, started", s.name, s.build.took.Round(100*time.Millisecond)), true)
			}
			sent += int(s.sent.Load())
			select {
			case <-s.proc.exited:
				if s.proc.err != nil {
					endLine()
					return s.proc.failure(s.proc.err)
				}
				tally := s.summary()
				if tally == nil {
					return s.proc.failure(fmt.Errorf("exited without its workload summary"))
				}
				if n := sum(tally); n != s.events {
					return fmt.Errorf("%s recorded %d events, not the %d asked for: %v", s.name, n, s.events, tally)
				}
				exited++
			default:
			}
		}
		pg, ch, err := st.counts(ctx)
		if ctx.Err() != nil {
			endLine()
			return fmt.Errorf("stopped while loading (%s): %w", strings.TrimSpace(lastLine), ctx.Err())
		}
		if err != nil {
			endLine()
			return err
		}
		queue := ""
		if m, err := scrape(ctx, client, metricsURL); err == nil {
			sent = int(m["otelcol_receiver_accepted_log_records"])
			queue = fmt.Sprintf("   in the collector's queue %s", group(int(m["otelcol_exporter_queue_size"])))
		}
		line := fmt.Sprintf("    sent %s/%s%s   stored: postgres %s, clickhouse %s   %4.1fs",
			group(sent), group(want), queue, group(pg), group(ch), time.Since(began).Seconds())
		if len(building) > 0 {
			line += "   building: " + strings.Join(building, ", ")
		}
		switch {
		case pg > want || ch > want:
			show(line, true)
			return fmt.Errorf("more rows than events: postgres %d, clickhouse %d, events %d", pg, ch, want)
		case exited == len(services) && pg == want && ch == want:
			show(line, true)
			return nil
		}
		show(line, false)
		select {
		case <-ctx.Done():
			show(line, true)
			return fmt.Errorf("waiting for every event in both stores (postgres %d, clickhouse %d of %d): %w", pg, ch, want, ctx.Err())
		case <-tick.C:
		}
	}
}

// scrape reads a Prometheus text exposition and sums the samples of each
// metric over their labels.
func scrape(ctx context.Context, client *http.Client, url string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		name := line[:i]
		if j := strings.IndexByte(name, '{'); j >= 0 {
			name = name[:j]
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[strings.TrimSpace(name)] += v
	}
	return out, sc.Err()
}

func sum(tally map[string]int) int {
	n := 0
	for _, v := range tally {
		n += v
	}
	return n
}

// group writes n with thousands separators: 12,345.
func group(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + group(-n)
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
