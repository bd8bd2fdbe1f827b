//go:build linux

package testenv_test

import (
	"context"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit/internal/testenv"
)

// ruok asks the ZooKeeper server on port whether it is fine.
func ruok(port int) (string, error) {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, "ruok"); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

func TestZooKeeperServerStopStart(t *testing.T) {
	t.Parallel()
	zk := testenv.StartZooKeeper(t)
	port := zk.Port()
	answer, err := ruok(port)
	require.NoError(t, err)
	require.Equal(t, "imok", answer)

	zk.Stop(t)
	_, err = ruok(port)
	require.Error(t, err, "a stopped server does not answer")

	zk.Start(t)
	require.Equal(t, port, zk.Port(), "the same port after Start")
	answer, err = ruok(port)
	require.NoError(t, err)
	require.Equal(t, "imok", answer)
}

// TestClickHouseClusterConfig starts two shards of one replica and reads
// back, on each server, the cluster, the macros and ZooKeeper, and runs an
// ON CLUSTER statement.
func TestClickHouseClusterConfig(t *testing.T) {
	t.Parallel()
	zk := testenv.StartZooKeeper(t)
	cl := testenv.StartClickHouseCluster(t, zk, "c1", 2, 1)
	require.Equal(t, "c1", cl.Name())
	require.Equal(t, 2, cl.Shards())
	require.Equal(t, 1, cl.Replicas())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var want []string
	for s := range 2 {
		want = append(want, strconv.Itoa(s+1)+"|1|"+strconv.Itoa(testenv.ClickHousePort(cl.Server(s, 0))))
	}
	for s := range 2 {
		opt, err := testenv.ClickHouseOptions(cl.Server(s, 0).DSN())
		require.NoError(t, err)
		conn, err := clickhouse.Open(opt)
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close() })

		rows, err := conn.Query(ctx, "SELECT shard_num, replica_num, port FROM system.clusters WHERE cluster = 'c1' ORDER BY shard_num")
		require.NoError(t, err)
		var got []string
		for rows.Next() {
			var shard, replica uint32
			var p uint16
			require.NoError(t, rows.Scan(&shard, &replica, &p))
			got = append(got, strconv.Itoa(int(shard))+"|"+strconv.Itoa(int(replica))+"|"+strconv.Itoa(int(p)))
		}
		require.NoError(t, rows.Err())
		rows.Close()
		require.Equal(t, want, got, "remote_servers on shard %d", s+1)

		var macro string
		require.NoError(t, conn.QueryRow(ctx, "SELECT substitution FROM system.macros WHERE macro = 'shard'").Scan(&macro))
		require.Equal(t, strconv.Itoa(s+1), macro)
		require.NoError(t, conn.QueryRow(ctx, "SELECT substitution FROM system.macros WHERE macro = 'replica'").Scan(&macro))
		require.Equal(t, "r1", macro)

		var n uint64
		require.NoError(t, conn.QueryRow(ctx, "SELECT count() FROM system.zookeeper WHERE path = '/'").Scan(&n))
		require.NotZero(t, n, "ZooKeeper reachable")
	}

	// ON CLUSTER reaches both servers.
	opt, err := testenv.ClickHouseOptions(cl.Server(0, 0).DSN())
	require.NoError(t, err)
	conn, err := clickhouse.Open(opt)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.Exec(ctx, "CREATE DATABASE on_both ON CLUSTER c1"))
	opt, err = testenv.ClickHouseOptions(cl.Server(1, 0).DSN())
	require.NoError(t, err)
	other, err := clickhouse.Open(opt)
	require.NoError(t, err)
	defer other.Close()
	var n uint64
	require.NoError(t, other.QueryRow(ctx, "SELECT count() FROM system.databases WHERE name = 'on_both'").Scan(&n))
	require.EqualValues(t, 1, n)
}
