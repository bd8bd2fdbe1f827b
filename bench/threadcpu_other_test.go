//go:build !linux

package bench

import "time"

// callerCPU measures the caller's CPU time on Linux only (see
// threadcpu_linux_test.go); elsewhere stop reports false.
type callerCPU struct{}

func startCallerCPU() callerCPU { return callerCPU{} }

func (callerCPU) stop() (time.Duration, bool) { return 0, false }
