//go:build linux

package testenv

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// ---------------------------------------------------------------- binaries

// postgresBinDir returns the directory holding initdb and postgres:
// $OTELAUDIT_TEST_POSTGRES_BIN when set, else the newest
// /usr/lib/postgresql/*/bin, else the directory of initdb on PATH.
func postgresBinDir() (string, error) {
	ok := func(dir string) bool {
		return isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "postgres"))
	}
	if dir := strings.TrimSpace(os.Getenv(EnvPostgresBin)); dir != "" {
		if ok(dir) {
			return dir, nil
		}
		return "", fmt.Errorf("%s=%s holds no initdb and postgres", EnvPostgresBin, dir)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Newest major version first: "/usr/lib/postgresql/16/bin" before ".../9.6/bin".
	slices.SortFunc(dirs, func(a, b string) int {
		return compareVersions(filepath.Base(filepath.Dir(b)), filepath.Base(filepath.Dir(a)))
	})
	for _, dir := range dirs {
		if ok(dir) {
			return dir, nil
		}
	}
	if initdb, err := exec.LookPath("initdb"); err == nil && ok(filepath.Dir(initdb)) {
		return filepath.Dir(initdb), nil
	}
	return "", errors.New("PostgreSQL server binaries (initdb, postgres) not found in " +
		EnvPostgresBin + ", /usr/lib/postgresql/*/bin or PATH")
}

// compareVersions compares dotted version numbers such as "9.6" and "15".
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x - y
		}
	}
	return 0
}

// clickHouseServerBin returns the clickhouse-server binary:
// $OTELAUDIT_CLICKHOUSE_SERVER when set, else clickhouse-server on PATH, in
// /usr/sbin or in /usr/bin.
func clickHouseServerBin() (string, error) {
	if bin := strings.TrimSpace(os.Getenv(EnvClickHouseServer)); bin != "" {
		if isExecutable(bin) {
			return bin, nil
		}
		return "", fmt.Errorf("%s=%s is not an executable", EnvClickHouseServer, bin)
	}
	if bin, err := exec.LookPath("clickhouse-server"); err == nil {
		return bin, nil
	}
	for _, bin := range []string{"/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"} {
		if isExecutable(bin) {
			return bin, nil
		}
	}
	return "", errors.New("clickhouse-server not found in " + EnvClickHouseServer + ", PATH, /usr/sbin or /usr/bin")
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// ------------------------------------------------------------------- users

// postgresCredential returns the user Postgres runs as: nil (ourselves)
// unless we are root, whom PostgreSQL refuses to run as; then the
// "postgres" user, without supplementary groups.
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, but there is no postgres user to run PostgreSQL as: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres user: uid %q: %w", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres user: gid %q: %w", u.Gid, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// privateDir creates a fresh directory (mode 0700) for one server's files,
// owned by cred's user when cred is not nil. It lies in os.TempDir(), or in
// /tmp when cred's user could not reach os.TempDir() (say /root/tmp).
// t.TempDir() does not do: its parent is closed to other users.
func privateDir(pattern string, cred *syscall.Credential) (string, error) {
	base := os.TempDir()
	if cred != nil && !searchable(base, cred) {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, pattern)
	if err != nil {
		return "", fmt.Errorf("create server directory: %w", err)
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			_ = os.RemoveAll(dir)
			return "", fmt.Errorf("hand the server directory to uid %d: %w", cred.Uid, err)
		}
	}
	return dir, nil
}

// searchable reports whether cred's user may traverse dir and each of its
// ancestors, judging by owner, group (primary only) and mode bits.
func searchable(dir string, cred *syscall.Credential) bool {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for {
		fi, err := os.Stat(dir)
		if err != nil {
			return false
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return false
		}
		mode := fi.Mode().Perm()
		switch {
		case st.Uid == cred.Uid:
			if mode&0o100 == 0 {
				return false
			}
		case st.Gid == cred.Gid:
			if mode&0o010 == 0 {
				return false
			}
		default:
			if mode&0o001 == 0 {
				return false
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return true
		}
		dir = parent
	}
}

// ------------------------------------------------------------------- ports

// Private servers listen on ports in [portMin, portMax): below the Linux
// ephemeral range (32768 and up), so that no outgoing connection takes the
// port while a server is stopped, and apart from the usual service ports.
const (
	portMin = 20000
	portMax = 32000
)

// ports holds the ports handed out in this process and not yet released,
// so that parallel tests never pick the same one. Other processes are not
// covered: a server that finds its port taken is started again on another.
var ports = struct {
	sync.Mutex
	taken map[int]bool
}{taken: make(map[int]bool)}

// freePort returns a loopback port that nobody listens on and that this
// process has not handed out.
func freePort() (int, error) {
	ports.Lock()
	defer ports.Unlock()
	for range 200 {
		p := portMin + rand.IntN(portMax-portMin)
		if ports.taken[p] {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		if err := l.Close(); err != nil {
			continue
		}
		ports.taken[p] = true
		return p, nil
	}
	return 0, errors.New("no free loopback port found")
}

// releasePort hands p back.
func releasePort(p int) {
	ports.Lock()
	defer ports.Unlock()
	delete(ports.taken, p)
}
