package main

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// TestBuilderConfigMatchesDistribution: builder-config.yaml names the
// components of components.go, at the versions this module's go.mod
// requires, so that a distribution built with ocb is this one.
func TestBuilderConfigMatchesDistribution(t *testing.T) {
	raw, err := os.ReadFile("builder-config.yaml")
	require.NoError(t, err)
	type module struct {
		GoMod string `yaml:"gomod"`
		Path  string `yaml:"path"`
	}
	var cfg struct {
		Receivers, Processors, Exporters, Extensions, Providers []module
	}
	require.NoError(t, yaml.Unmarshal(raw, &cfg))
	gomod, err := os.ReadFile("go.mod")
	require.NoError(t, err)

	f, err := components()
	require.NoError(t, err)
	for kind, c := range map[string]struct {
		mods []module
		n    int
	}{
		"receivers": {cfg.Receivers, len(f.Receivers)}, "processors": {cfg.Processors, len(f.Processors)},
		"exporters": {cfg.Exporters, len(f.Exporters)}, "extensions": {cfg.Extensions, len(f.Extensions)},
		"providers": {cfg.Providers, len(settings().ConfigProviderSettings.ResolverSettings.ProviderFactories)},
	} {
		assert.Len(t, c.mods, c.n, kind)
		for _, m := range c.mods {
			if m.Path != "" {
				_, err := os.Stat(m.Path + "/go.mod")
				assert.NoError(t, err, "%s: %s", kind, m.Path)
				continue
			}
			assert.Contains(t, string(gomod), "\t"+m.GoMod+"\n", "%s: go.mod requires %s", kind, m.GoMod)
		}
	}
}
