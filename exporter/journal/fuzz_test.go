package journal

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"testing"

	sdklog "go.opentelemetry.io/otel/sdk/log"
)

// FuzzScanSegment feeds arbitrary bytes to recovery: the scanner and the
// decoders must neither panic nor loop, and must return every complete
// frame that precedes the damage.
func FuzzScanSegment(f *testing.F) {
	dir := f.TempDir()
	exp := &memExporter{fail: func([]sdklog.Record) error { return errDown }}
	p, err := New(dir, []Target{{Name: "t", Exporter: exp}}, WithErrorHandler(func(error) {}))
	if err != nil {
		f.Fatal(err)
	}
	em := newEmitter(p)
	for i := range 3 {
		em.emit(context.Background(), i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10e6)
	_ = p.Shutdown(ctx)
	cancel()
	segs, _ := listSegments(dir)
	seed, err := os.ReadFile(segPath(dir, segs[0]))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:len(seed)-7])
	f.Add(append(bytes.Clone(seed[:100]), seed[60:]...))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		sc := &scanner{f: bytes.NewReader(data), off: 0, limit: int64(len(data)), sealed: true, maxFrame: 1 << 16}
		var last int64 = -1
		for range len(data) + 2 {
			payload, at, _, err := sc.next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				t.Fatalf("scan: %v", err)
			}
			if at <= last {
				t.Fatalf("frame at %d after one at %d", at, last)
			}
			last = at
			if len(payload) == 0 {
				continue
			}
			switch payload[0] {
			case kindOrigin:
				_, _, _ = decodeOrigin(payload[1:])
			case kindRecord:
				d := decoder{b: payload[1:]}
				_ = d.recordHeader()
				var r sdklog.Record
				_ = d.recordInto(&r, nil)
			}
		}
		t.Fatal("the scanner did not reach the end")
	})
}
