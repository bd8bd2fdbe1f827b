// Package retry runs an operation again with capped exponential backoff and
// full jitter while its error is transient, within the caller's context.
package retry

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// Default policy values.
const (
	DefaultInitialInterval = 50 * time.Millisecond
	DefaultMaxInterval     = 5 * time.Second
	DefaultMaxElapsed      = time.Minute
)

// Policy bounds the retries. The zero value means the defaults.
type Policy struct {
	// InitialInterval is the first backoff; it doubles up to MaxInterval.
	InitialInterval time.Duration
	MaxInterval     time.Duration
	// MaxElapsed stops retrying once this much time has passed since the
	// first attempt (the context's deadline stops it earlier).
	MaxElapsed time.Duration
}

func (p Policy) withDefaults() Policy {
	if p.InitialInterval <= 0 {
		p.InitialInterval = DefaultInitialInterval
	}
	if p.MaxInterval <= 0 {
		p.MaxInterval = DefaultMaxInterval
	}
	if p.MaxElapsed <= 0 {
		p.MaxElapsed = DefaultMaxElapsed
	}
	return p
}

// Do calls op until it succeeds, returns an error that transient reports as
// permanent, the policy's time runs out, or ctx is done. onRetry, when not
// nil, is called before each new attempt. The returned error is op's last
// error, wrapped with the attempt count when there was more than one.
func Do(ctx context.Context, p Policy, transient func(error) bool, onRetry func(error), op func(context.Context) error) error {
	p = p.withDefaults()
	start := time.Now()
	backoff := p.InitialInterval
	for attempt := 1; ; attempt++ {
		err := op(ctx)
		if err == nil || !transient(err) {
			return wrap(err, attempt)
		}
		if ctx.Err() != nil || time.Since(start) >= p.MaxElapsed {
			return wrap(err, attempt)
		}
		sleep := rand.N(backoff) + 1 // full jitter
		if d, ok := ctx.Deadline(); ok && time.Until(d) < sleep {
			return wrap(err, attempt)
		}
		if onRetry != nil {
			onRetry(err)
		}
		t := time.NewTimer(sleep)
		select {
		case <-ctx.Done():
			t.Stop()
			return wrap(fmt.Errorf("%w (then %w)", err, ctx.Err()), attempt)
		case <-t.C:
		}
		backoff = min(2*backoff, p.MaxInterval)
	}
}

func wrap(err error, attempts int) error {
	if err == nil || attempts == 1 {
		return err
	}
	return fmt.Errorf("after %d attempts: %w", attempts, err)
}
