package postgreslog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"
	"github.com/stretchr/testify/require"
)

func TestClassify(t *testing.T) {
	pg := func(code, constraint string) error {
		return fmt.Errorf("copy: %w", &pgconn.PgError{Code: code, ConstraintName: constraint})
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want errorClass
	}{
		{"unique violation", context.Background(), pg("23505", "audit_logs_pkey"), classDuplicate},
		{"no partition for a row", context.Background(), pg("23514", ""), classNoPartition},
		{"check constraint", context.Background(), pg("23514", "audit_logs_outcome_check"), classRecord},
		{"not null", context.Background(), pg("23502", ""), classRecord},
		{"timestamp out of range", context.Background(), pg("22008", ""), classRecord},
		{"invalid binary representation", context.Background(), pg("22P03", ""), classRecord},
		{"index row too large", context.Background(), pg("54000", ""), classRecord},
		{"serialization failure", context.Background(), pg("40001", ""), classTransient},
		{"deadlock", context.Background(), pg("40P01", ""), classTransient},
		{"terminated by the administrator", context.Background(), pg("57P01", ""), classTransient},
		{"cannot connect now", context.Background(), pg("57P03", ""), classTransient},
		{"connection failure", context.Background(), pg("08006", ""), classTransient},
		{"too many connections", context.Background(), pg("53300", ""), classTransient},
		{"statement timeout", context.Background(), pg("57014", ""), classTransient},
		{"undefined table", context.Background(), pg("42P01", ""), classPermanent},
		{"permission denied", context.Background(), pg("42501", ""), classPermanent},
		{"connection reset", context.Background(), io.ErrUnexpectedEOF, classTransient},
		{"acquire failed", context.Background(), &acquireError{errors.New("dial: refused")}, classTransient},
		{"closed pool", context.Background(), &acquireError{puddle.ErrClosedPool}, classPermanent},
		{"our context ended", canceled, io.ErrUnexpectedEOF, classPermanent},
		{"a row's own problem", context.Background(), &rowError{pg("23514", "")}, classRecord},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, classify(tt.ctx, tt.err))
		})
	}
	require.True(t, pgconn.SafeToRetry(&acquireError{errors.New("x")}), "nothing was sent")
}
