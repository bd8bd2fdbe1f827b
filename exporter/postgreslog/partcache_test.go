package postgreslog

import "testing"

// TestPartitionCacheBounds: a cached range [lo, hi) holds lo and not hi;
// ranges added out of order, or twice, are found and kept once.
func TestPartitionCacheBounds(t *testing.T) {
	if s := (span{100, 200}); !s.has(100) || !s.has(199) || s.has(200) || s.has(99) {
		t.Errorf("span %v holds [100, 200) only", s)
	}
	var c partitionCache
	c.add(span{300, 400}, span{100, 200})
	c.add(span{100, 200}, span{200, 300})
	if len(c.spans) != 3 {
		t.Fatalf("spans = %v, want three, sorted, each once", c.spans)
	}
	for _, tt := range []struct {
		t    int64
		want span
		ok   bool
	}{
		{99, span{}, false},
		{100, span{100, 200}, true},
		{199, span{100, 200}, true},
		{200, span{200, 300}, true},
		{299, span{200, 300}, true},
		{300, span{300, 400}, true},
		{399, span{300, 400}, true},
		{400, span{}, false},
	} {
		got, ok := c.lookup(tt.t)
		if got != tt.want || ok != tt.ok {
			t.Errorf("lookup(%d) = %v, %v; want %v, %v", tt.t, got, ok, tt.want, tt.ok)
		}
	}
	c.reset()
	if _, ok := c.lookup(150); ok || c.loaded {
		t.Error("reset forgets every range")
	}
}
