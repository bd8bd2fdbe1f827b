package bench

import (
	"context"
	"testing"
)

// BenchmarkEmit emits one audit event per operation through each scenario
// (see the package documentation) into an SDK LoggerProvider with the stock
// BatchProcessor and a discarding exporter, twice: with the SDK's
// per-record key deduplication on (its default; the scenario's name) and
// off (sdklog.WithAllowKeyDuplication, as the pipelines and the bridge
// documentation set it up; the name followed by _dedup_off), one after the
// other. benchfmt reports each scenario's ratio to the "direct" ceiling
// with the same setting ("direct" or "direct_dedup_off"). Besides the
// wall time (ns/op), each run reports the CPU time of the emitting
// goroutine per event (cpu_ns/op, Linux only), which waiting for a busy
// machine's CPUs does not inflate.
func BenchmarkEmit(b *testing.B) {
	for _, sc := range scenarios {
		for _, dedupOff := range []bool{false, true} {
			name := sc.name
			if dedupOff {
				name += dedupOffSuffix
			}
			b.Run(name, func(b *testing.B) {
				exp := &discardExporter{}
				lp := newProvider(exp, dedupOff)
				em := sc.new(lp)

				cpu := startCallerCPU()
				n := loop(b, em)
				reportCallerCPU(b, cpu)

				if err := flushAndCount(lp, exp, n); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}

// BenchmarkEmitNoSDK emits the same events into a logger that discards
// them on Emit, without the SDK: what each scenario costs on the caller's
// side, where the SDK's own work does not hide the differences.
func BenchmarkEmitNoSDK(b *testing.B) {
	for _, sc := range scenarios {
		b.Run(sc.name, func(b *testing.B) {
			loop(b, sc.new(discardProvider{}))
		})
	}
}

// loop times em.emit, checks the emitter and returns how many events it
// emitted.
func loop(b *testing.B, em emitter) int64 {
	b.Helper()
	ctx := context.Background()
	b.ReportAllocs()
	var n int64
	for b.Loop() {
		em.emit(ctx)
		n++
	}
	b.StopTimer()
	if err := em.check(); err != nil {
		b.Fatal(err)
	}
	return n
}
