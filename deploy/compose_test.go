package deploy

import (
	"bufio"
	"context"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// root is the repository root.
var root, _ = filepath.Abs("..")

// loadProject loads docker-compose.yml the way `docker compose` does, with
// every profile enabled and an empty environment, validating it against
// the Compose specification's schema.
func loadProject(t *testing.T) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root),
		cli.WithEnv(nil),
		cli.WithProfiles([]string{"*"}),
		cli.WithResolvedPaths(true),
	)
	require.NoError(t, err)
	p, err := opts.LoadProject(context.Background())
	require.NoError(t, err, "docker-compose.yml does not load")
	return p
}

// The long-running services, and the one-shot workloads.
var (
	longRunning = []string{"postgres", "clickhouse", "collector", "grafana", "webportal", "backend", "node-service"}
	apps        = []string{"webportal", "backend", "node-service"}
	workloads   = map[string]string{ // workload service -> the app whose image it runs
		"webportal-workload":    "webportal",
		"backend-workload":      "backend",
		"node-service-workload": "node-service",
	}
)

func TestComposeServices(t *testing.T) {
	p := loadProject(t)
	assert.Equal(t, "otelaudit", p.Name)
	want := slices.Clone(longRunning)
	for w := range workloads {
		want = append(want, w)
	}
	assert.ElementsMatch(t, want, p.ServiceNames())
	for w, app := range workloads {
		s, err := p.GetService(w)
		require.NoError(t, err)
		assert.Equal(t, []string{"workload"}, s.Profiles, "%s: only with --profile workload", w)
		a, err := p.GetService(app)
		require.NoError(t, err)
		assert.Equal(t, a.Image, s.Image, "%s runs the image of %s", w, app)
		if assert.NotNil(t, s.Build, w) && assert.NotNil(t, a.Build, app) {
			assert.Equal(t, *a.Build, *s.Build, "%s builds the image as %s does", w, app)
		}
	}
	for _, name := range longRunning {
		s, err := p.GetService(name)
		require.NoError(t, err)
		assert.Empty(t, s.Profiles, "%s starts with a plain docker compose up", name)
	}
}

// published returns the container ports a service publishes, each checked
// to be bound to loopback only.
func published(t *testing.T, s types.ServiceConfig) []uint32 {
	t.Helper()
	var targets []uint32
	for _, port := range s.Ports {
		assert.Equal(t, "127.0.0.1", port.HostIP, "%s publishes %d on loopback only", s.Name, port.Target)
		assert.Equal(t, strconv.Itoa(int(port.Target)), port.Published, "%s: same port inside and out", s.Name)
		targets = append(targets, port.Target)
	}
	return targets
}

func TestComposePorts(t *testing.T) {
	p := loadProject(t)
	want := map[string][]uint32{
		// scripts/services.sh (OTELAUDIT_SERVICES_MODE=docker) uses these.
		"postgres":   {5432},
		"clickhouse": {9000, 8123},
		// OTLP/gRPC and OTLP/HTTP.
		"collector":    {4317, 4318},
		"webportal":    {8080},
		"backend":      {8081},
		"node-service": {8082},
		"grafana":      {3000},
	}
	for name, ports := range want {
		s, err := p.GetService(name)
		require.NoError(t, err)
		assert.ElementsMatch(t, ports, published(t, s), name)
	}
	// Each app listens where it is published.
	addrEnv := map[string]string{"webportal": "WEBPORTAL_ADDR", "backend": "BACKEND_ADDR", "node-service": "NODE_SERVICE_ADDR"}
	for _, name := range apps {
		s, _ := p.GetService(name)
		addr := s.Environment[addrEnv[name]]
		require.NotNil(t, addr, "%s sets %s", name, addrEnv[name])
		_, port, err := net.SplitHostPort(*addr)
		require.NoError(t, err)
		assert.Equal(t, strconv.Itoa(int(want[name][0])), port, "%s listens on its published port", name)
	}
}

func TestComposeHealthChecks(t *testing.T) {
	p := loadProject(t)
	for _, name := range longRunning {
		s, err := p.GetService(name)
		require.NoError(t, err)
		hc := s.HealthCheck
		if !assert.NotNil(t, hc, "%s has a health check", name) {
			continue
		}
		assert.False(t, hc.Disable, name)
		require.GreaterOrEqual(t, len(hc.Test), 2, name)
		assert.Contains(t, []string{"CMD", "CMD-SHELL"}, hc.Test[0], name)
		if assert.NotNil(t, hc.Interval, name) && assert.NotNil(t, hc.Retries, name) {
			// Long enough for a ClickHouse or a collector to start.
			assert.GreaterOrEqual(t, float64(*hc.Retries)*float64(*hc.Interval), 20e9, "%s: retries x interval", name)
		}
	}
	// The collector is healthy once the OTLP/HTTP receiver accepts an export.
	c, _ := p.GetService("collector")
	assert.Contains(t, strings.Join(c.HealthCheck.Test, " "), "http://127.0.0.1:4318/v1/logs")
}

func TestComposeStartOrder(t *testing.T) {
	p := loadProject(t)
	healthy := func(name string, deps ...string) {
		t.Helper()
		s, err := p.GetService(name)
		require.NoError(t, err)
		for _, d := range deps {
			dep, ok := s.DependsOn[d]
			if assert.True(t, ok, "%s depends on %s", name, d) {
				assert.Equal(t, types.ServiceConditionHealthy, dep.Condition, "%s waits until %s is healthy", name, d)
				assert.True(t, dep.Required, "%s: %s is required", name, d)
			}
		}
	}
	// The collector migrates both stores at start: they must be up.
	healthy("collector", "postgres", "clickhouse")
	for _, a := range apps {
		healthy(a, "collector")
	}
	for w := range workloads {
		healthy(w, "collector")
	}
	healthy("grafana", "collector")
	for _, name := range []string{"postgres", "clickhouse"} {
		s, _ := p.GetService(name)
		assert.Empty(t, s.DependsOn, "%s depends on nothing", name)
	}
}

func TestComposeServicesSendToTheCollector(t *testing.T) {
	p := loadProject(t)
	cfg := loadCollectorConfig(t)
	_, httpPort, err := net.SplitHostPort(cfg.Receivers.OTLP.Protocols.HTTP.Endpoint)
	require.NoError(t, err)
	names := append(slices.Clone(apps), "webportal-workload", "backend-workload", "node-service-workload")
	for _, name := range names {
		s, _ := p.GetService(name)
		ep := s.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"]
		if assert.NotNil(t, ep, "%s sets OTEL_EXPORTER_OTLP_ENDPOINT", name) {
			assert.Equal(t, "http://collector:"+httpPort, *ep, "%s sends OTLP/HTTP to the collector's receiver", name)
		}
		sn := s.Environment["OTEL_SERVICE_NAME"]
		if assert.NotNil(t, sn, "%s sets OTEL_SERVICE_NAME", name) {
			assert.Equal(t, strings.TrimSuffix(name, "-workload"), *sn, "a workload records under its service's name")
		}
	}
	// The workloads' sizes are set through the services' environment.
	for w, env := range map[string]string{"webportal-workload": "WEBPORTAL_WORKLOAD", "backend-workload": "BACKEND_WORKLOAD", "node-service-workload": "NODE_SERVICE_WORKLOAD"} {
		s, _ := p.GetService(w)
		v := s.Environment[env]
		if assert.NotNil(t, v, "%s sets %s", w, env) {
			n, err := strconv.Atoi(*v)
			assert.NoError(t, err)
			assert.Positive(t, n)
		}
	}
}

// dockerfile is what the checks read from a Dockerfile: the instructions of
// its final stage, and every COPY source taken from the build context.
type dockerfile struct {
	final       map[string][]string // instruction -> arguments, of the last stage
	from        string              // the final stage's base image
	contextSrcs []string            // COPY sources from the context (not --from)
	buildDirs   []string            // directories of "cd DIR &&" in RUN
}

func parseDockerfile(t *testing.T, path string) dockerfile {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var d dockerfile
	var line strings.Builder
	sc := bufio.NewScanner(f)
	handle := func(l string) {
		fields := strings.Fields(l)
		if len(fields) == 0 {
			return
		}
		instr, args := strings.ToUpper(fields[0]), fields[1:]
		switch instr {
		case "FROM":
			d.final = map[string][]string{}
			d.from = args[0]
		case "COPY", "ADD":
			var plain []string
			fromStage := false
			for _, a := range args {
				if strings.HasPrefix(a, "--from=") {
					fromStage = true
				}
				if !strings.HasPrefix(a, "--") {
					plain = append(plain, a)
				}
			}
			if !fromStage && len(plain) >= 2 {
				d.contextSrcs = append(d.contextSrcs, plain[:len(plain)-1]...)
			}
		case "RUN":
			for i, a := range args {
				if a == "cd" && i+1 < len(args) {
					d.buildDirs = append(d.buildDirs, args[i+1])
				}
			}
		}
		if d.final != nil {
			d.final[instr] = append(d.final[instr], args...)
		}
	}
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "#") || l == "" {
			continue
		}
		if cont, ok := strings.CutSuffix(l, `\`); ok {
			line.WriteString(cont + " ")
			continue
		}
		line.WriteString(l)
		handle(line.String())
		line.Reset()
	}
	require.NoError(t, sc.Err())
	require.NotNil(t, d.final, "%s has a FROM", path)
	return d
}

// execForm returns the words of an exec-form instruction (["a", "b"]).
func execForm(args []string) []string {
	s := strings.Trim(strings.Join(args, " "), "[]")
	var out []string
	for _, w := range strings.Split(s, ",") {
		out = append(out, strings.Trim(strings.TrimSpace(w), `"`))
	}
	return out
}

func TestComposeBuildsHaveDockerfiles(t *testing.T) {
	p := loadProject(t)
	want := map[string]string{
		"collector":    "cmd/otelaudit-collector/Dockerfile",
		"webportal":    "examples/webportal/Dockerfile",
		"backend":      "examples/backend/Dockerfile",
		"node-service": "examples/node-service/Dockerfile",
	}
	for w, app := range workloads {
		want[w] = want[app]
	}
	var names []string
	for name := range want {
		names = append(names, name)
	}
	assert.ElementsMatch(t, names, p.ServicesWithBuild())
	for _, name := range p.ServicesWithBuild() {
		t.Run(name, func(t *testing.T) {
			s, _ := p.GetService(name)
			ctxDir := s.Build.Context
			require.True(t, filepath.IsAbs(ctxDir), "resolved context %q", ctxDir)
			st, err := os.Stat(ctxDir)
			require.NoError(t, err, "build context of %s", name)
			require.True(t, st.IsDir())
			df := s.Build.Dockerfile
			if df == "" {
				df = "Dockerfile"
			}
			if !filepath.IsAbs(df) {
				df = filepath.Join(ctxDir, df)
			}
			rel, err := filepath.Rel(root, df)
			require.NoError(t, err)
			assert.Equal(t, want[name], filepath.ToSlash(rel), "%s is built from its Dockerfile", name)
			require.FileExists(t, df)

			d := parseDockerfile(t, df)
			for _, src := range d.contextSrcs {
				if src == "." {
					continue
				}
				matches, err := filepath.Glob(filepath.Join(ctxDir, src))
				require.NoError(t, err)
				assert.NotEmpty(t, matches, "%s: COPY %s: not in the build context %s", name, src, ctxDir)
			}
			for _, dir := range d.buildDirs {
				assert.DirExists(t, filepath.Join(ctxDir, dir), "%s: RUN cd %s", name, dir)
			}
			// EXPOSE lists the ports compose publishes.
			var exposed []uint32
			for _, e := range d.final["EXPOSE"] {
				n, err := strconv.Atoi(strings.TrimSuffix(e, "/tcp"))
				require.NoError(t, err)
				exposed = append(exposed, uint32(n))
			}
			for _, port := range s.Ports {
				assert.Contains(t, exposed, port.Target, "%s: EXPOSE %d", name, port.Target)
			}
			// The health check runs a program the image has.
			if _, oneShot := workloads[name]; oneShot {
				assert.Nil(t, s.HealthCheck, "%s runs once: no health check", name)
				return
			}
			hc := s.HealthCheck.Test
			require.Equal(t, "CMD", hc[0], name)
			starts := [][]string{execForm(d.final["ENTRYPOINT"]), execForm(d.final["CMD"])}
			switch {
			case strings.HasPrefix(d.from, "alpine:"):
				assert.Equal(t, "wget", hc[1], "%s: busybox wget", name)
			default:
				found := false
				for _, start := range starts {
					found = found || (len(start) > 0 && start[0] == hc[1] && (len(hc) < 3 || len(start) < 2 || start[1] == hc[2]))
				}
				assert.True(t, found, "%s: the health check %v runs the image's own program %v", name, hc, starts)
			}
		})
	}
}

// collectorConfig is the part of deploy/collector.yaml the checks read.
type collectorConfig struct {
	Extensions map[string]struct {
		Directory       string `yaml:"directory"`
		CreateDirectory bool   `yaml:"create_directory"`
	} `yaml:"extensions"`
	Receivers struct {
		OTLP struct {
			Protocols struct {
				GRPC struct {
					Endpoint string `yaml:"endpoint"`
				} `yaml:"grpc"`
				HTTP struct {
					Endpoint string `yaml:"endpoint"`
				} `yaml:"http"`
			} `yaml:"protocols"`
		} `yaml:"otlp"`
	} `yaml:"receivers"`
	Processors map[string]map[string]any `yaml:"processors"`
	Exporters  struct {
		Otelaudit struct {
			Postgres struct {
				DSN     string `yaml:"dsn"`
				Migrate bool   `yaml:"migrate"`
			} `yaml:"postgres"`
			ClickHouse struct {
				DSN     string `yaml:"dsn"`
				Migrate bool   `yaml:"migrate"`
			} `yaml:"clickhouse"`
			SendingQueue struct {
				Storage string `yaml:"storage"`
			} `yaml:"sending_queue"`
		} `yaml:"otelaudit"`
	} `yaml:"exporters"`
	Service struct {
		Extensions []string `yaml:"extensions"`
		Pipelines  map[string]struct {
			Receivers  []string `yaml:"receivers"`
			Processors []string `yaml:"processors"`
			Exporters  []string `yaml:"exporters"`
		} `yaml:"pipelines"`
	} `yaml:"service"`
}

func loadCollectorConfig(t *testing.T) collectorConfig {
	t.Helper()
	b, err := os.ReadFile("collector.yaml")
	require.NoError(t, err)
	var c collectorConfig
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	require.NoError(t, dec.Decode(&c))
	return c
}

func TestCollectorConfigAgreesWithCompose(t *testing.T) {
	p := loadProject(t)
	c := loadCollectorConfig(t)
	coll, err := p.GetService("collector")
	require.NoError(t, err)

	// The pipeline: OTLP in, memory_limiter first, then batch, otelaudit out.
	logs, ok := c.Service.Pipelines["logs"]
	require.True(t, ok, "a logs pipeline")
	assert.Equal(t, []string{"otlp"}, logs.Receivers)
	assert.Equal(t, []string{"memory_limiter", "batch"}, logs.Processors)
	assert.Equal(t, []string{"otelaudit"}, logs.Exporters)
	for _, proc := range logs.Processors {
		assert.Contains(t, c.Processors, proc, "processor %s configured", proc)
	}

	// The receivers listen on the ports compose publishes.
	var ports []uint32
	for _, ep := range []string{c.Receivers.OTLP.Protocols.GRPC.Endpoint, c.Receivers.OTLP.Protocols.HTTP.Endpoint} {
		host, port, err := net.SplitHostPort(ep)
		require.NoError(t, err, ep)
		assert.Equal(t, "0.0.0.0", host, "reachable from the other containers")
		n, _ := strconv.Atoi(port)
		ports = append(ports, uint32(n))
	}
	assert.ElementsMatch(t, published(t, coll), ports)

	// The persistent queue is on the volume.
	assert.Contains(t, c.Service.Extensions, "file_storage")
	assert.Equal(t, "file_storage", c.Exporters.Otelaudit.SendingQueue.Storage)
	fs, ok := c.Extensions["file_storage"]
	require.True(t, ok)
	var queueVolume, configMount *types.ServiceVolumeConfig
	for i, v := range coll.Volumes {
		switch {
		case v.Type == types.VolumeTypeVolume && v.Target == fs.Directory:
			queueVolume = &coll.Volumes[i]
		case v.Type == types.VolumeTypeBind:
			configMount = &coll.Volumes[i]
		}
	}
	if assert.NotNil(t, queueVolume, "a named volume at the file_storage directory %s", fs.Directory) {
		assert.Contains(t, p.VolumeNames(), queueVolume.Source)
	}

	// The configuration is this file, where the command says.
	if assert.NotNil(t, configMount, "deploy/collector.yaml is mounted") {
		assert.Equal(t, filepath.Join(root, "deploy", "collector.yaml"), configMount.Source)
		assert.True(t, configMount.ReadOnly)
		assert.Contains(t, coll.Command, "--config="+configMount.Target)
	}

	// The stores are the compose services, on their container ports, and
	// the schema is migrated at start.
	for _, store := range []struct {
		dsn, service string
		migrate      bool
	}{
		{c.Exporters.Otelaudit.Postgres.DSN, "postgres", c.Exporters.Otelaudit.Postgres.Migrate},
		{c.Exporters.Otelaudit.ClickHouse.DSN, "clickhouse", c.Exporters.Otelaudit.ClickHouse.Migrate},
	} {
		u, err := url.Parse(store.dsn)
		require.NoError(t, err, store.dsn)
		assert.Equal(t, store.service, u.Hostname(), "%s dsn names the compose service", store.service)
		s, err := p.GetService(store.service)
		require.NoError(t, err)
		port, _ := strconv.Atoi(u.Port())
		assert.Contains(t, published(t, s), uint32(port), "%s dsn port", store.service)
		assert.True(t, store.migrate, "%s: migrate on start", store.service)
	}
}

// TestComposeGrafanaProvisioning: Grafana mounts the provisioning and the
// dashboards of deploy/grafana where their files say, with the ClickHouse
// plugin and every variable the data source reads.
func TestComposeGrafanaProvisioning(t *testing.T) {
	p := loadProject(t)
	g, err := p.GetService("grafana")
	require.NoError(t, err)
	mounts := map[string]string{}
	for _, v := range g.Volumes {
		mounts[v.Target] = v.Source
	}
	assert.Equal(t, filepath.Join(root, "deploy/grafana/provisioning"), mounts["/etc/grafana/provisioning"])
	assert.Equal(t, filepath.Join(root, "deploy/grafana/dashboards"), mounts["/var/lib/grafana/dashboards"])
	for _, src := range mounts {
		_, err := os.Stat(src)
		assert.NoError(t, err, "mounted directory exists")
	}
	// The dashboard provider reads the mounted directory.
	prov, err := os.ReadFile(filepath.Join(root, "deploy/grafana/provisioning/dashboards/otelaudit.yaml"))
	require.NoError(t, err)
	assert.Contains(t, string(prov), "/var/lib/grafana/dashboards")
	require.NotNil(t, g.Environment["GF_INSTALL_PLUGINS"])
	assert.Contains(t, *g.Environment["GF_INSTALL_PLUGINS"], "grafana-clickhouse-datasource")
	ds, err := os.ReadFile(filepath.Join(root, "deploy/grafana/provisioning/datasources/clickhouse.yaml"))
	require.NoError(t, err)
	for _, name := range []string{"OTELAUDIT_GRAFANA_CLICKHOUSE_HOST", "OTELAUDIT_GRAFANA_CLICKHOUSE_DATABASE", "OTELAUDIT_GRAFANA_CLICKHOUSE_USER", "OTELAUDIT_GRAFANA_CLICKHOUSE_PASSWORD"} {
		assert.Contains(t, string(ds), "${"+name+"}")
		assert.NotNil(t, g.Environment[name], "grafana sets %s", name)
	}
	host := g.Environment["OTELAUDIT_GRAFANA_CLICKHOUSE_HOST"]
	if assert.NotNil(t, host) {
		_, err := p.GetService(*host)
		assert.NoError(t, err, "the data source's host is a service")
	}
}
