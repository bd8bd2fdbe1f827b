package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
)

// Job is one unit of work of the backend: an event from the chat platform
// (an app installed through OAuth, uninstalled, tokens revoked) or from the
// billing provider (a subscription created, a payment declined, a
// subscription cancelled). It arrives as JSON on POST /events.
type Job struct {
	Type      string `json:"type"`
	Workspace string `json:"team_id"`
	User      string `json:"user_id"`
	// IP is the address the user completed the OAuth flow from, when the
	// job comes from an OAuth callback.
	IP string `json:"ip,omitempty"`

	// OAuth jobs.
	Provider  string   `json:"provider,omitempty"`
	Scopes    []string `json:"scopes,omitempty"`
	BotUserID string   `json:"bot_user_id,omitempty"`
	Error     string   `json:"error,omitempty"` // oauth_failed, payment_failed

	// Billing jobs.
	SubscriptionID string `json:"subscription_id,omitempty"`
	Plan           string `json:"plan,omitempty"`
	Seats          int    `json:"seats,omitempty"`
	AmountCents    int    `json:"amount_cents,omitempty"`
	Reason         string `json:"reason,omitempty"`
}

// Job types, and the audit action each records.
const (
	JobOAuthCompleted        = "oauth_completed"        // oauth_connected, success
	JobOAuthFailed           = "oauth_failed"           // oauth_connected, failure
	JobAppUninstalled        = "app_uninstalled"        // oauth_disconnected, success
	JobTokensRevoked         = "tokens_revoked"         // oauth_disconnected, success
	JobSubscriptionCreated   = "subscription_created"   // subscription_created, success
	JobPaymentFailed         = "payment_failed"         // subscription_created, failure
	JobSubscriptionCancelled = "subscription_cancelled" // subscription_cancelled, success
)

// ErrUnknownJob is returned for a job of a type the backend does not know.
var ErrUnknownJob = errors.New("backend: unknown job type")

// validate checks a job before it is queued.
func (j Job) validate() error {
	switch j.Type {
	case JobOAuthCompleted, JobOAuthFailed, JobAppUninstalled, JobTokensRevoked,
		JobSubscriptionCreated, JobPaymentFailed, JobSubscriptionCancelled:
	default:
		return fmt.Errorf("%w %q", ErrUnknownJob, j.Type)
	}
	if j.Workspace == "" || j.User == "" {
		return errors.New("backend: a job needs team_id and user_id")
	}
	return nil
}

// worker processes jobs. It writes its audit trail with log/slog, through
// the bridge's slog handler (audit), and its own operational log to a
// separate logger (ops): the two never mix.
type worker struct {
	audit *slog.Logger
	ops   *slog.Logger
}

// process does a job's work and records its audit event: exactly one per
// job. The message is the action; the keys the bridge knows (user_id,
// workspace_id, ip, resource, resource_id, error_type) fill the event, and
// every other attribute goes into its details, keeping its type.
func (w worker) process(ctx context.Context, j Job) {
	who := []any{"user_id", j.User, "workspace_id", j.Workspace}
	if j.IP != "" {
		who = append(who, "ip", j.IP)
	}
	switch j.Type {
	case JobOAuthCompleted:
		w.audit.InfoContext(ctx, "oauth_connected", append(who,
			"resource", "oauth_provider", "resource_id", j.Provider,
			"scopes", j.Scopes, "bot_user_id", j.BotUserID)...)
	case JobOAuthFailed:
		w.audit.WarnContext(ctx, "oauth_connected", append(who,
			"resource", "oauth_provider", "resource_id", j.Provider,
			"error_type", j.Error, "scopes", j.Scopes)...)
	case JobAppUninstalled, JobTokensRevoked:
		w.audit.InfoContext(ctx, "oauth_disconnected", append(who,
			"resource", "oauth_provider", "resource_id", j.Provider,
			"trigger", j.Type)...)
	case JobSubscriptionCreated:
		w.audit.InfoContext(ctx, "subscription_created", append(who,
			"resource", "subscription", "resource_id", j.SubscriptionID,
			slog.Group("billing", "plan", j.Plan, "seats", j.Seats, "amount_cents", j.AmountCents))...)
	case JobPaymentFailed:
		w.audit.WarnContext(ctx, "subscription_created", append(who,
			"resource", "subscription", "error_type", j.Error,
			slog.Group("billing", "plan", j.Plan, "seats", j.Seats, "amount_cents", j.AmountCents))...)
	case JobSubscriptionCancelled:
		w.audit.InfoContext(ctx, "subscription_cancelled", append(who,
			"resource", "subscription", "resource_id", j.SubscriptionID,
			"reason", j.Reason)...)
	}
	w.ops.DebugContext(ctx, "job processed", "type", j.Type, "team_id", j.Workspace)
}

// pool runs workers over a queue of jobs.
type pool struct {
	jobs chan Job
	wg   sync.WaitGroup
}

// startPool starts n workers; close the pool to drain the queue and wait.
func startPool(ctx context.Context, w worker, n, queue int) *pool {
	p := &pool{jobs: make(chan Job, queue)}
	for range n {
		p.wg.Go(func() {
			for j := range p.jobs {
				w.process(ctx, j)
			}
		})
	}
	return p
}

// close stops taking jobs and waits until the queued ones are processed.
func (p *pool) close() {
	close(p.jobs)
	p.wg.Wait()
}
