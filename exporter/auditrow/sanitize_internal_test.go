package auditrow

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// needsCleaningByByte is needsCleaning read one byte at a time: what the
// word-at-a-time scan must agree with.
func needsCleaningByByte(s string, limit int) bool {
	return len(s) > limit || !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0
}

// TestNeedsCleaningWordScan puts a NUL byte, an invalid byte, a valid
// multi-byte rune and a lone 0x80 at every position of strings of every
// length up to three words and a half, around the word boundaries
// included, and checks the scan against the byte-by-byte answer.
func TestNeedsCleaningWordScan(t *testing.T) {
	inserts := []string{"\x00", "\xff", "é", "\x80", "\x7f", "\x01", "€\x00"}
	checked := 0
	for n := 0; n <= 28; n++ {
		base := strings.Repeat("a", n)
		if got, want := needsCleaning(base, 1<<20), needsCleaningByByte(base, 1<<20); got != want {
			t.Fatalf("needsCleaning(%q) = %v, want %v", base, got, want)
		}
		for pos := 0; pos <= n; pos++ {
			for _, ins := range inserts {
				s := base[:pos] + ins + base[pos:]
				for _, limit := range []int{1 << 20, len(s), len(s) - 1} {
					if got, want := needsCleaning(s, limit), needsCleaningByByte(s, limit); got != want {
						t.Fatalf("needsCleaning(%q, %d) = %v, want %v", s, limit, got, want)
					}
					checked++
				}
			}
		}
	}
	if checked < 1000 {
		t.Fatalf("only %d cases checked", checked)
	}
}

func FuzzNeedsCleaning(f *testing.F) {
	for _, s := range []string{"", "plain ascii text", "nul\x00here", "bad\xffbyte", "héllo wörld", "12345678\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := needsCleaning(s, 64), needsCleaningByByte(s, 64); got != want {
			t.Fatalf("needsCleaning(%q) = %v, want %v", s, got, want)
		}
	})
}

func BenchmarkNeedsCleaning(b *testing.B) {
	s := "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if needsCleaning(s, 1<<20) {
			b.Fatal("clean string")
		}
	}
}
