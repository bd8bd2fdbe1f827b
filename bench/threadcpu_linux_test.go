//go:build linux

package bench

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// callerCPU measures the CPU time of the calling goroutine, as distinct
// from the wall time that go test reports: the time the emitting caller
// itself spends, not the time it waits for a CPU that the processor's
// background goroutines, the garbage collector or other processes hold.
// Between startCallerCPU and stop the goroutine is locked to its thread,
// whose CPU clock (CLOCK_THREAD_CPUTIME_ID) is read at both ends; garbage
// collection work assisted by the caller counts as its own.
type callerCPU struct {
	start time.Duration
	ok    bool
}

func startCallerCPU() callerCPU {
	runtime.LockOSThread()
	t, err := threadCPUTime()
	return callerCPU{start: t, ok: err == nil}
}

// stop returns the CPU time spent since startCallerCPU, and false when
// the thread's clock could not be read.
func (c callerCPU) stop() (time.Duration, bool) {
	t, err := threadCPUTime()
	runtime.UnlockOSThread()
	if err != nil || !c.ok {
		return 0, false
	}
	return t - c.start, true
}

func threadCPUTime() (time.Duration, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0, err
	}
	return time.Duration(ts.Nano()), nil
}
