package otelaudit_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit"
)

func TestActionNamingRule(t *testing.T) {
	tests := []struct {
		name  string
		valid bool
	}{
		{"login", true},
		{"invoice.refunded", true},
		{"api_key.rotated", true},
		{"v2.export", true},
		{"oauth2_connected", true},
		{"order1234", true},
		{"", false},
		{"Login", false},
		{"user login", false},
		{"audit.", false},
		{".login", false},
		{"login.", false},
		{"a..b", false},
		{"_login", false},
		{"2fa", false},
		{"user.12345", false},
		{"order12345", false},
		{"doc.deadbeef0123", false},
		{"logïn", false},
		{"log-in", false},
		{"login\x00", false},
		{strings.Repeat("a", otelaudit.MaxActionLen), true},
		{strings.Repeat("a", otelaudit.MaxActionLen+1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := otelaudit.ParseAction(tt.name)
			if !tt.valid {
				require.ErrorIs(t, err, otelaudit.ErrInvalidAction)
				assert.Empty(t, a)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, otelaudit.Action(tt.name), a)
			got, ok := otelaudit.ActionFromEventName(a.EventName())
			assert.True(t, ok)
			assert.Equal(t, a, got)
		})
	}
}

func TestSeedActionsAreValid(t *testing.T) {
	seen := map[otelaudit.Action]bool{}
	for _, a := range otelaudit.Actions() {
		require.NoError(t, a.Validate())
		assert.False(t, seen[a], "duplicate %q", a)
		seen[a] = true
	}
	assert.Len(t, seen, 12)
}

func TestActionFromEventName(t *testing.T) {
	for _, name := range []string{"login", "http.request", "audit", "audit.", "audit.Bad", "AUDIT.login"} {
		_, ok := otelaudit.ActionFromEventName(name)
		assert.False(t, ok, name)
	}
}

// TestSeedEventNamesDoNotAllocate: the emit path and every exported row
// call EventName and Validate; for the seed actions they must be lookups.
func TestSeedEventNamesDoNotAllocate(t *testing.T) {
	for _, a := range otelaudit.Actions() {
		assert.Equal(t, "audit."+string(a), a.EventName())
		allocs := testing.AllocsPerRun(100, func() {
			_ = a.Validate()
			_ = a.EventName()
		})
		assert.Zero(t, allocs, a)
	}
	assert.Equal(t, "audit.log", otelaudit.ActionLog.EventName())
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		_ = otelaudit.ActionLog.Validate()
		_ = otelaudit.ActionLog.EventName()
	}), otelaudit.ActionLog)
	assert.NotContains(t, otelaudit.Actions(), otelaudit.ActionLog, "log is not a seed action")
	custom := otelaudit.Action("invoice.refunded")
	assert.Equal(t, "audit.invoice.refunded", custom.EventName())
}
