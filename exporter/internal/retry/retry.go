// Package retry runs an operation again with capped exponential backoff and
// full jitter while its error is transient, within the caller's context,
// as configured by a [Config] (the shape of the OTLP exporters'
// RetryConfig: Enabled, InitialInterval, MaxInterval, MaxElapsedTime).
package retry

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// Default values of a Config's fields.
const (
	DefaultInitialInterval = 50 * time.Millisecond
	DefaultMaxInterval     = 5 * time.Second
	DefaultMaxElapsedTime  = time.Minute
)

// Config says whether and how long an operation is retried after a
// transient error; the exporters' RetryConfig types convert to it. Its
// zero value disables retries: one attempt. With Enabled, zero durations
// mean the defaults.
type Config struct {
	// Enabled turns retries on; off, op runs once.
	Enabled bool
	// InitialInterval is the first backoff; it doubles up to MaxInterval.
	InitialInterval time.Duration
	MaxInterval     time.Duration
	// MaxElapsedTime stops retrying once this much time has passed since
	// the first attempt (the context's deadline stops it earlier).
	MaxElapsedTime time.Duration
}

// DefaultConfig returns retries on, with the default durations.
func DefaultConfig() Config {
	return Config{Enabled: true, InitialInterval: DefaultInitialInterval, MaxInterval: DefaultMaxInterval, MaxElapsedTime: DefaultMaxElapsedTime}
}

func (c Config) withDefaults() Config {
	if c.InitialInterval <= 0 {
		c.InitialInterval = DefaultInitialInterval
	}
	if c.MaxInterval <= 0 {
		c.MaxInterval = DefaultMaxInterval
	}
	if c.MaxElapsedTime <= 0 {
		c.MaxElapsedTime = DefaultMaxElapsedTime
	}
	return c
}

// Do calls op until it succeeds, returns an error that transient reports as
// permanent, the configuration's time runs out, or ctx is done; once when
// retries are not enabled. onRetry, when not nil, is called before each new
// attempt. The returned error is op's last error, wrapped with the attempt
// count when there was more than one.
func Do(ctx context.Context, c Config, transient func(error) bool, onRetry func(error), op func(context.Context) error) error {
	if !c.Enabled {
		return op(ctx)
	}
	p := c.withDefaults()
	start := time.Now()
	backoff := p.InitialInterval
	for attempt := 1; ; attempt++ {
		err := op(ctx)
		if err == nil || !transient(err) {
			return wrap(err, attempt)
		}
		if ctx.Err() != nil || time.Since(start) >= p.MaxElapsedTime {
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
