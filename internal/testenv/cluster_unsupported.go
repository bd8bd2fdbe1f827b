//go:build !linux

package testenv

import "testing"

// ZooKeeperServer is a private ZooKeeper server; Linux only.
type ZooKeeperServer struct{}

// StartZooKeeper skips tb, or fails it if [Required] is true: private
// servers need Linux.
func StartZooKeeper(tb testing.TB) *ZooKeeperServer {
	tb.Helper()
	unavailable(tb, "private ZooKeeper server: private servers need Linux")
	return nil
}

// Port returns 0.
func (z *ZooKeeperServer) Port() int { return 0 }

// Stop does nothing.
func (z *ZooKeeperServer) Stop(testing.TB) {}

// Start does nothing.
func (z *ZooKeeperServer) Start(testing.TB) {}

// ClickHouseCluster is a cluster of private ClickHouse servers; Linux only.
type ClickHouseCluster struct{}

// StartClickHouseCluster skips tb, or fails it if [Required] is true:
// private servers need Linux.
func StartClickHouseCluster(tb testing.TB, _ *ZooKeeperServer, _ string, _, _ int, _ ...ClickHouseOption) *ClickHouseCluster {
	tb.Helper()
	unavailable(tb, "private ClickHouse cluster: private servers need Linux")
	return nil
}

// Name returns "".
func (c *ClickHouseCluster) Name() string { return "" }

// Shards returns 0.
func (c *ClickHouseCluster) Shards() int { return 0 }

// Replicas returns 0.
func (c *ClickHouseCluster) Replicas() int { return 0 }

// Server returns nil.
func (c *ClickHouseCluster) Server(int, int) *ClickHouseServer { return nil }
