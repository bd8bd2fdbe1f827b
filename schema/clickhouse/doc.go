// Package chschema is the ClickHouse schema of otelaudit: versioned
// migrations for the audit table and its daily rollup, in two layouts
// chosen by the server's version, and the analyst query pack.
package chschema
