package otelaudit_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/otelaudit/otelaudit"
)

func TestIsReservedKey(t *testing.T) {
	reserved := []string{
		otelaudit.KeyEventID, otelaudit.KeyUserID, otelaudit.KeyUserName, otelaudit.KeyWorkspaceID,
		otelaudit.KeyClientAddress, otelaudit.KeyUserAgent, otelaudit.KeySessionID,
		otelaudit.KeyResourceType, otelaudit.KeyResourceID, otelaudit.KeyOutcome,
		otelaudit.KeyErrorType, otelaudit.KeyDetails, otelaudit.KeyPrevious, otelaudit.KeyNew,
		"audit.anything", "audit.",
	}
	for _, k := range reserved {
		assert.True(t, otelaudit.IsReservedKey(k), k)
	}
	free := []string{
		"", "request.id", "http.route", "user_id", "user.email", "auditor", "audit",
		"AUDIT.details", otelaudit.KeyServiceName, "feature_flag.key",
	}
	for _, k := range free {
		assert.False(t, otelaudit.IsReservedKey(k), k)
	}
}
