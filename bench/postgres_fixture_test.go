package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"

	"github.com/otelaudit/otelaudit"
)

// pgEvent returns event i of the Postgres benchmarks: the fixture event
// (every seed field: user, workspace, client IP and user agent, action,
// resource and resource id, details, previous and new values) with the
// user, workspace, client IP, resource id and action varying with i, drawn
// from pools of realistic sizes. It is a function of i alone and is built
// in the emit loop, as a service builds its event, so that the benchmark
// process holds no million-event array.
func pgEvent(i int) otelaudit.Event {
	h := uint64(i)*0x9E3779B97F4A7C15 ^ uint64(i)>>7
	return otelaudit.Event{
		Action: pgActions[h%uint64(len(pgActions))],
		Actor: otelaudit.Actor{
			UserID:      pgUsers[h>>16%uint64(len(pgUsers))],
			WorkspaceID: pgWorkspaces[h>>8%uint64(len(pgWorkspaces))],
		},
		Client:   otelaudit.Client{IP: pgIPs[h>>24%uint64(len(pgIPs))], UserAgent: fixture.userAgent},
		Resource: otelaudit.Resource{Type: fixture.resType, ID: pgResources[h>>40%uint64(len(pgResources))]},
		Details:  fixture.details,
		Previous: fixture.previous,
		New:      fixture.next,
	}
}

var (
	pgActions = []otelaudit.Action{
		otelaudit.ActionSettingsChanged, otelaudit.ActionAdminAction, otelaudit.ActionDataExportRequested,
		otelaudit.ActionSubscriptionCreated, otelaudit.ActionOAuthConnected,
	}
	pgWorkspaces = numbered("ws_", 200)
	pgUsers      = numbered("usr_", 5000)
	pgResources  = numbered("ws_acme/setting_", 50)
	pgIPs        = func() []string {
		ips := make([]string, 10000)
		for i := range ips {
			ips[i] = fmt.Sprintf("198.51.%d.%d", i/256%256, i%256)
		}
		return ips
	}()
)

func numbered(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i)
	}
	return out
}

// readVmHWM returns the peak resident set size (VmHWM) in MiB from a
// /proc/<pid>/status file (Linux).
func readVmHWM(path string) (float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmHWM:")); ok {
			var kb float64
			if _, err := fmt.Sscan(string(rest), &kb); err != nil {
				return 0, fmt.Errorf("%s: VmHWM: %w", path, err)
			}
			return kb / 1024, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return 0, fmt.Errorf("%s: no VmHWM line", path)
}
