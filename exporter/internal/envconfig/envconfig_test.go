package envconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func reader(env map[string]string) *Reader {
	return &Reader{Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
}

func TestParse(t *testing.T) {
	r := reader(map[string]string{
		"S": "  text  ", "EMPTY": "  ",
		"I": "42", "I0": "0", "IX": "4x",
		"B": "123", "BK": "8KiB", "BM": "8 MiB", "BG": "1GiB", "BX": "8MB", "BN": "-1", "BHUGE": "9999999999GiB",
		"DMS": "250", "DGO": "1m30s", "DNEG": "-5ms", "DX": "soon",
		"T": "TRUE", "F": "false", "TX": "yes",
	})
	s, ok := r.String("S")
	require.True(t, ok)
	require.Equal(t, "text", s)
	_, ok = r.String("EMPTY")
	require.False(t, ok, "empty means unset")
	_, ok = r.String("UNSET")
	require.False(t, ok)

	n, ok := r.Int("I")
	require.True(t, ok)
	require.Equal(t, 42, n)
	for _, name := range []string{"I0", "IX"} {
		_, ok = r.Int(name)
		require.False(t, ok, name)
	}

	for name, want := range map[string]int64{"B": 123, "BK": 8 << 10, "BM": 8 << 20, "BG": 1 << 30} {
		b, ok := r.Bytes(name)
		require.True(t, ok, name)
		require.Equal(t, want, b, name)
	}
	for _, name := range []string{"BX", "BN", "BHUGE"} {
		_, ok = r.Bytes(name)
		require.False(t, ok, name)
	}

	d, ok := r.Duration("DMS")
	require.True(t, ok)
	require.Equal(t, 250*time.Millisecond, d, "an integer is milliseconds")
	d, ok = r.Duration("DGO")
	require.True(t, ok)
	require.Equal(t, 90*time.Second, d)
	for _, name := range []string{"DNEG", "DX"} {
		_, ok = r.Duration(name)
		require.False(t, ok, name)
	}

	v, ok := r.Bool("T")
	require.True(t, ok && v)
	v, ok = r.Bool("F")
	require.True(t, ok && !v)
	_, ok = r.Bool("TX")
	require.False(t, ok)

	err := r.Err()
	require.Error(t, err)
	for _, name := range []string{"I0", "IX", "BX", "BN", "BHUGE", "DNEG", "DX", "TX"} {
		require.Contains(t, err.Error(), "environment variable "+name+"=", name)
	}
	require.Equal(t, 8, strings.Count(err.Error(), "environment variable "), "one error per bad value")
	require.NoError(t, reader(nil).Err())
}

func TestNames(t *testing.T) {
	seen := map[string]bool{}
	for _, n := range Names() {
		require.True(t, strings.HasPrefix(n, Prefix), n)
		require.False(t, seen[n], "%s listed twice", n)
		seen[n] = true
	}
}

// TestReadmeDocumentsEveryVariable keeps the table of the README's
// Configuration section and Names equal: every variable read has a row,
// every row a variable.
func TestReadmeDocumentsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "..", "README.md"))
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(readme), "\n## Configuration\n")
	require.True(t, ok, "the README has a Configuration section")
	section, _, _ = strings.Cut(section, "\n## ")
	var rows []string
	for line := range strings.SplitSeq(section, "\n") {
		if name, ok := strings.CutPrefix(line, "| `"+Prefix); ok {
			name, _, _ = strings.Cut(name, "`")
			rows = append(rows, Prefix+name)
		}
	}
	require.Equal(t, Names(), rows, "README's table, in order")
}
