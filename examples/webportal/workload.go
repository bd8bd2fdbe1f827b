package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Tally counts the events a workload caused, by "action/outcome"
// ("login/failure"), as the HTTP answers showed them.
type Tally map[string]int

// Total returns the number of events counted.
func (t Tally) Total() int {
	n := 0
	for _, v := range t {
		n += v
	}
	return n
}

// String lists the counts in key order.
func (t Tally) String() string {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s=%d", k, t[k])
	}
	return b.String()
}

// attackerIPs try passwords: the failed logins of the workload that do not
// come from the users' own addresses.
var attackerIPs = []string{"203.0.113.66", "198.51.100.23", "192.0.2.200"}

// guessedNames are the user names attackers try besides real ones.
var guessedNames = []string{"admin", "root", "test", "support", "u-administrator"}

var userAgents = []string{
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
}

var settingValues = map[string][]string{
	"theme":         {"light", "dark", "system"},
	"language":      {"en", "fr", "de", "ja", "pt-BR"},
	"timezone":      {"UTC", "Europe/Paris", "Asia/Tokyo", "America/New_York"},
	"notifications": {"all", "mentions", "none"},
}

// workload drives the portal over HTTP as a crowd of users would: logins
// (some failing, and password guessing from a few addresses), settings
// changes, data export requests, admin actions and logouts, across every
// workspace. Each request records exactly one audit event; the workload
// sends exactly as many requests as it was asked for events. It reaches the
// portal as a trusted proxy, and gives each user an address of their own in
// X-Forwarded-For.
type workload struct {
	base   string
	client *http.Client
	users  []user
	peers  map[string][]user // workspace -> users
	home   map[string]string // user id -> address

	budget atomic.Int64 // events still to cause
	done   atomic.Int64
	total  int64
	out    io.Writer

	mu    sync.Mutex
	tally Tally
}

// runWorkload causes n audit events with the given number of concurrent
// visitors, and returns what it caused. Progress goes to out.
func runWorkload(ctx context.Context, base string, n, visitors int, seed uint64, out io.Writer) (Tally, error) {
	dir := directory()
	w := &workload{
		base:  base,
		peers: map[string][]user{},
		home:  map[string]string{},
		total: int64(n),
		out:   out,
		tally: Tally{},
		client: &http.Client{
			Timeout:   30 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: visitors},
		},
	}
	defer w.client.CloseIdleConnections()
	for _, u := range dir {
		w.users = append(w.users, u)
	}
	slices.SortFunc(w.users, func(a, b user) int { return strings.Compare(a.ID, b.ID) })
	for i, u := range w.users {
		w.peers[u.Workspace] = append(w.peers[u.Workspace], u)
		w.home[u.ID] = fmt.Sprintf("192.0.2.%d", 10+i) // not one of attackerIPs
	}
	w.budget.Store(int64(n))

	var wg sync.WaitGroup
	errs := make([]error, visitors)
	for i := range visitors {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			for ctx.Err() == nil && w.budget.Load() > 0 {
				if err := w.visit(ctx, rng); err != nil {
					if !errors.Is(err, errBudget) {
						errs[i] = err
					}
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return w.tally, err
	}
	if ctx.Err() != nil {
		return w.tally, fmt.Errorf("workload stopped after %d of %d events: %w", w.done.Load(), n, ctx.Err())
	}
	return w.tally, nil
}

// errBudget ends a visit when the workload has caused all its events.
var errBudget = errors.New("event budget spent")

// visitor is one browser session: an address, a user agent, a cookie.
type visitor struct {
	ip, ua, session string
}

func (w *workload) visit(ctx context.Context, rng *rand.Rand) error {
	ua := userAgents[rng.IntN(len(userAgents))]
	if rng.IntN(10) == 0 { // password guessing from a few addresses
		v := visitor{ip: attackerIPs[rng.IntN(len(attackerIPs))], ua: "python-requests/2.32.3"}
		for range 1 + rng.IntN(3) {
			name := guessedNames[rng.IntN(len(guessedNames))]
			if rng.IntN(2) == 0 {
				name = w.users[rng.IntN(len(w.users))].ID
			}
			if err := w.step(ctx, &v, "login", "failure", http.StatusUnauthorized, "POST", "/login",
				url.Values{"user": {name}, "password": {"hunter2"}}); err != nil {
				return err
			}
		}
		return nil
	}

	u := w.users[rng.IntN(len(w.users))]
	v := visitor{ip: w.home[u.ID], ua: ua}
	if rng.IntN(14) == 0 { // a typo first
		if err := w.step(ctx, &v, "login", "failure", http.StatusUnauthorized, "POST", "/login",
			url.Values{"user": {u.ID}, "password": {u.Password + "!"}}); err != nil {
			return err
		}
	}
	if err := w.step(ctx, &v, "login", "success", http.StatusNoContent, "POST", "/login",
		url.Values{"user": {u.ID}, "password": {u.Password}}); err != nil {
		return err
	}
	for range 1 + rng.IntN(5) {
		var err error
		switch r := rng.IntN(100); {
		case r < 45:
			err = w.changeSetting(ctx, rng, &v)
		case r < 70:
			err = w.requestExport(ctx, rng, &v)
		case u.Admin || rng.IntN(8) == 0: // now and then a user tries an admin page
			err = w.adminAction(ctx, rng, &v, u)
		default:
			err = w.changeSetting(ctx, rng, &v)
		}
		if err != nil {
			return err
		}
	}
	if rng.IntN(100) < 85 {
		return w.step(ctx, &v, "logout", "success", http.StatusNoContent, "POST", "/logout", nil)
	}
	return nil
}

func (w *workload) changeSetting(ctx context.Context, rng *rand.Rand, v *visitor) error {
	names := []string{"theme", "language", "timezone", "notifications"}
	name := names[rng.IntN(len(names))]
	values := settingValues[name]
	value := values[rng.IntN(len(values))]
	if rng.IntN(20) == 0 {
		return w.step(ctx, v, "settings_changed", "failure", http.StatusUnprocessableEntity, "PUT", "/settings/"+name,
			url.Values{"value": {strings.Repeat(value, 1+maxSettingLen/len(value))}})
	}
	return w.step(ctx, v, "settings_changed", "success", http.StatusNoContent, "PUT", "/settings/"+name,
		url.Values{"value": {value}})
}

func (w *workload) requestExport(ctx context.Context, rng *rand.Rand, v *visitor) error {
	form := url.Values{"format": {exportFormats[rng.IntN(len(exportFormats))]}}
	if rng.IntN(3) == 0 {
		form["scope"] = []string{"profile", "activity", "messages"}
	}
	if rng.IntN(20) == 0 {
		form.Set("format", "xlsx")
		return w.step(ctx, v, "data_export_requested", "failure", http.StatusBadRequest, "POST", "/exports", form)
	}
	return w.step(ctx, v, "data_export_requested", "success", http.StatusAccepted, "POST", "/exports", form)
}

func (w *workload) adminAction(ctx context.Context, rng *rand.Rand, v *visitor, u user) error {
	peers := w.peers[u.Workspace]
	target := peers[rng.IntN(len(peers))]
	op := adminOps[rng.IntN(len(adminOps))]
	form := url.Values{"ticket": {fmt.Sprintf("SUP-%d", 1000+rng.IntN(9000))}}
	switch {
	case !u.Admin:
		return w.step(ctx, v, "admin_action", "failure", http.StatusForbidden, "POST",
			"/admin/users/"+target.ID+"/"+op, form)
	case rng.IntN(15) == 0: // a user of another workspace
		other := w.users[rng.IntN(len(w.users))]
		if other.Workspace != u.Workspace {
			return w.step(ctx, v, "admin_action", "failure", http.StatusNotFound, "POST",
				"/admin/users/"+other.ID+"/"+op, form)
		}
	}
	return w.step(ctx, v, "admin_action", "success", http.StatusNoContent, "POST",
		"/admin/users/"+target.ID+"/"+op, form)
}

// step sends one request that records one event, expecting status; it
// spends one unit of the budget first and returns errBudget when none is
// left.
func (w *workload) step(ctx context.Context, v *visitor, action, outcome string, want int, method, path string, form url.Values) error {
	if w.budget.Add(-1) < 0 {
		return errBudget
	}
	req, err := http.NewRequestWithContext(ctx, method, w.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", v.ua)
	req.Header.Set("X-Forwarded-For", v.ip)
	if v.session != "" {
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: v.session})
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d, want %d", method, path, resp.StatusCode, want)
	}
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			v.session = c.Value
		}
	}
	w.mu.Lock()
	w.tally[action+"/"+outcome]++
	w.mu.Unlock()
	w.progress(w.done.Add(1))
	return nil
}

// progress prints a line at every tenth of the workload (for workloads of
// 1,000 events and more).
func (w *workload) progress(done int64) {
	if w.total < 1000 {
		return
	}
	if step := w.total / 10; done%step == 0 {
		fmt.Fprintf(w.out, "webportal: workload %3d%% (%d/%d events)\n", done*100/w.total, done, w.total)
	}
}
