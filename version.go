package otelaudit

// Version is the version of this module, recorded as the instrumentation
// version of the records it emits.
const Version = "0.1.0"
