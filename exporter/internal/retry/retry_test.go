package retry

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var errTransient = errors.New("transient")

func isTransient(err error) bool { return errors.Is(err, errTransient) }

func TestDo(t *testing.T) {
	fast := Config{Enabled: true, InitialInterval: time.Millisecond, MaxInterval: 2 * time.Millisecond, MaxElapsedTime: time.Second}
	t.Run("succeeds after transient errors", func(t *testing.T) {
		calls, retries := 0, 0
		err := Do(context.Background(), fast, isTransient, func(error) { retries++ }, func(context.Context) error {
			calls++
			if calls < 3 {
				return errTransient
			}
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, 3, calls)
		require.Equal(t, 2, retries)
	})
	t.Run("disabled means one attempt", func(t *testing.T) {
		for _, c := range []Config{{}, {InitialInterval: time.Millisecond, MaxElapsedTime: time.Hour}} {
			calls, retries := 0, 0
			err := Do(context.Background(), c, isTransient, func(error) { retries++ }, func(context.Context) error {
				calls++
				return errTransient
			})
			require.Equal(t, errTransient, err, "the error as op returned it")
			require.Equal(t, 1, calls)
			require.Zero(t, retries)
		}
	})
	t.Run("enabled with zero durations uses the defaults", func(t *testing.T) {
		require.Equal(t, DefaultConfig(), Config{Enabled: true}.withDefaults())
		require.True(t, DefaultConfig().Enabled)
	})
	t.Run("permanent error stops at once", func(t *testing.T) {
		calls := 0
		perm := errors.New("permanent")
		err := Do(context.Background(), fast, isTransient, nil, func(context.Context) error { calls++; return perm })
		require.ErrorIs(t, err, perm)
		require.Equal(t, 1, calls)
	})
	t.Run("cancelled context stops retrying", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		calls := 0
		err := Do(ctx, fast, isTransient, nil, func(context.Context) error {
			calls++
			if calls == 2 {
				cancel()
			}
			return errTransient
		})
		require.ErrorIs(t, err, errTransient)
		require.Equal(t, 2, calls)
	})
	t.Run("elapsed bound stops retrying", func(t *testing.T) {
		calls := 0
		err := Do(context.Background(), Config{Enabled: true, InitialInterval: time.Millisecond, MaxElapsedTime: 20 * time.Millisecond}, isTransient, nil,
			func(context.Context) error { calls++; return errTransient })
		require.ErrorIs(t, err, errTransient)
		require.Greater(t, calls, 1)
	})
	t.Run("a deadline shorter than the backoff returns early", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		defer cancel()
		calls := 0
		err := Do(ctx, Config{Enabled: true, InitialInterval: time.Hour, MaxInterval: time.Hour, MaxElapsedTime: time.Hour}, isTransient, nil,
			func(context.Context) error { calls++; return errTransient })
		require.ErrorIs(t, err, errTransient)
		require.Equal(t, 1, calls)
	})
}
