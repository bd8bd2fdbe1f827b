package main

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
)

// Tally counts the audit events a workload recorded, by "action/outcome"
// ("subscription_created/failure").
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

// workspaces and their users: the same tenants as examples/webportal, so
// that one user's trail spans both services.
var workspaces = []struct {
	ID    string
	Users []string
}{
	{"ws-acme", []string{"ada", "grace", "alan", "edsger", "barbara"}},
	{"ws-globex", []string{"ken", "dennis", "brian", "rob"}},
	{"ws-initech", []string{"margaret", "katherine", "dorothy", "mary"}},
	{"ws-umbrella", []string{"linus", "guido", "bjarne"}},
}

var providers = map[string][]string{
	"slack":        {"chat:write", "commands", "channels:read", "users:read"},
	"github":       {"repo", "read:org"},
	"google_drive": {"drive.file", "drive.metadata.readonly"},
}

var plans = []struct {
	Name         string
	CentsPerSeat int
}{{"team", 800}, {"business", 1500}, {"enterprise", 2400}}

var cancelReasons = []string{"too_expensive", "switched_tool", "not_used", "company_closed"}

// makeWorkload makes up n jobs across the workspaces, hands each to submit,
// and returns the audit events they record, by action and outcome.
// Subscriptions are cancelled only once created, and apps uninstalled only
// once installed.
func makeWorkload(n int, seed uint64, submit func(Job), ops *slog.Logger) Tally {
	rng := rand.New(rand.NewPCG(seed, 0x6261636b656e64))
	type member struct{ id, workspace, ip string }
	var members []member
	var ids []string
	for _, ws := range workspaces {
		for _, u := range ws.Users {
			ids = append(ids, "u-"+u)
			members = append(members, member{id: "u-" + u, workspace: ws.ID})
		}
	}
	// The same addresses as the webportal's workload gives its users.
	slices.Sort(ids)
	for i := range members {
		members[i].ip = fmt.Sprintf("192.0.2.%d", 10+slices.Index(ids, members[i].id))
	}
	providerNames := []string{"github", "google_drive", "slack"}
	installed := map[string][]string{} // workspace -> providers connected
	subs := map[string][]string{}      // workspace -> live subscriptions
	nextSub := 0

	tally := Tally{}
	for i := range n {
		m := members[rng.IntN(len(members))]
		j := Job{Workspace: m.workspace, User: m.id}
		var action, outcome string
		switch r := rng.IntN(100); {
		case r < 12 && len(installed[m.workspace]) > 0:
			k := rng.IntN(len(installed[m.workspace]))
			j.Type, j.Provider = JobAppUninstalled, installed[m.workspace][k]
			if rng.IntN(3) == 0 {
				j.Type = JobTokensRevoked
			}
			installed[m.workspace] = slices.Delete(installed[m.workspace], k, k+1)
			action, outcome = "oauth_disconnected", "success"
		case r < 40:
			p := providerNames[rng.IntN(len(providerNames))]
			j.Provider, j.Scopes, j.IP = p, providers[p], m.ip
			if rng.IntN(8) == 0 {
				j.Type, j.Error = JobOAuthFailed, []string{"access_denied", "invalid_code", "scope_mismatch"}[rng.IntN(3)]
				action, outcome = "oauth_connected", "failure"
			} else {
				j.Type, j.BotUserID = JobOAuthCompleted, "B"+strings.ToUpper(p[:3])
				installed[m.workspace] = append(installed[m.workspace], p)
				action, outcome = "oauth_connected", "success"
			}
		case r < 60 && len(subs[m.workspace]) > 0:
			k := rng.IntN(len(subs[m.workspace]))
			j.Type, j.SubscriptionID = JobSubscriptionCancelled, subs[m.workspace][k]
			j.Reason = cancelReasons[rng.IntN(len(cancelReasons))]
			subs[m.workspace] = slices.Delete(subs[m.workspace], k, k+1)
			action, outcome = "subscription_cancelled", "success"
		default:
			plan := plans[rng.IntN(len(plans))]
			j.Plan, j.Seats = plan.Name, 1+rng.IntN(50)
			j.AmountCents = j.Seats * plan.CentsPerSeat
			if rng.IntN(7) == 0 {
				j.Type, j.Error = JobPaymentFailed, []string{"card_declined", "insufficient_funds", "expired_card"}[rng.IntN(3)]
				action, outcome = "subscription_created", "failure"
			} else {
				nextSub++
				j.Type, j.SubscriptionID = JobSubscriptionCreated, fmt.Sprintf("sub-%06d", nextSub)
				subs[m.workspace] = append(subs[m.workspace], j.SubscriptionID)
				action, outcome = "subscription_created", "success"
			}
		}
		submit(j)
		tally[action+"/"+outcome]++
		if n >= 1000 && (i+1)%(n/10) == 0 {
			ops.Info("workload", "done", i+1, "of", n)
		}
	}
	return tally
}
