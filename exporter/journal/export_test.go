package journal

// WithFsyncHook replaces the fsync of journal files, for tests outside the
// package: f is given the file's Sync method and returns what the fsync
// returns.
func WithFsyncHook(f func(sync func() error) error) Option {
	return withFsync(func(s syncer) error { return f(s.Sync) })
}
