package postgreslog_test

import (
	"encoding/binary"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// killMode says when the proxy cuts a connection, once.
type killMode int

const (
	// killNone forwards everything.
	killNone killMode = iota
	// killOnCopyData cuts the connection when the client sends its first
	// CopyData message: the COPY never completes, nothing is committed.
	killOnCopyData
	// killAfterCopyCommit cuts the connection when the server reports a
	// COPY complete, before the client sees it: the rows are committed
	// (an autocommit COPY commits before CommandComplete is sent) but the
	// client cannot know: an ambiguous commit.
	killAfterCopyCommit
)

// proxy is a TCP proxy in front of Postgres that parses the protocol's
// message framing and cuts one connection at a chosen point.
type proxy struct {
	ln     net.Listener
	target string
	mode   atomic.Int32
	killed atomic.Int32
	wg     sync.WaitGroup

	mu    sync.Mutex
	conns []net.Conn
}

func newProxy(t testing.TB, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{ln: ln, target: target}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

// arm makes the proxy cut the next connection that reaches m.
func (p *proxy) arm(m killMode) { p.mode.Store(int32(m)) }

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		cut := func() { c.Close(); s.Close() }
		p.wg.Go(func() { p.pipe(c, s, false, cut) })
		p.wg.Go(func() { p.pipe(s, c, true, cut) })
	}
}

// pipe copies messages from src to dst. The client's first message (the
// startup message) has no type byte; every other message is a type byte
// and a 32-bit length that counts itself.
func (p *proxy) pipe(src, dst net.Conn, fromServer bool, cut func()) {
	defer cut()
	first := !fromServer
	for {
		var msg []byte
		if first {
			first = false
			var hdr [4]byte
			if _, err := io.ReadFull(src, hdr[:]); err != nil {
				return
			}
			n := int(binary.BigEndian.Uint32(hdr[:]))
			msg = make([]byte, n)
			copy(msg, hdr[:])
			if _, err := io.ReadFull(src, msg[4:]); err != nil {
				return
			}
		} else {
			var hdr [5]byte
			if _, err := io.ReadFull(src, hdr[:]); err != nil {
				return
			}
			n := int(binary.BigEndian.Uint32(hdr[1:]))
			msg = make([]byte, 1+n)
			copy(msg, hdr[:])
			if _, err := io.ReadFull(src, msg[5:]); err != nil {
				return
			}
			if p.shouldCut(msg, fromServer) {
				return
			}
		}
		if _, err := dst.Write(msg); err != nil {
			return
		}
	}
}

func (p *proxy) shouldCut(msg []byte, fromServer bool) bool {
	var hit bool
	switch killMode(p.mode.Load()) {
	case killOnCopyData:
		hit = !fromServer && msg[0] == 'd'
	case killAfterCopyCommit:
		hit = fromServer && msg[0] == 'C' && len(msg) > 9 && string(msg[5:9]) == "COPY"
	}
	if hit && p.mode.CompareAndSwap(p.mode.Load(), int32(killNone)) {
		p.killed.Add(1)
		return true
	}
	return false
}

func (p *proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// poolThrough returns a pool on pool's database whose connections go
// through p.
func poolThrough(t testing.TB, pool *pgxpool.Pool, p *proxy) *pgxpool.Pool {
	t.Helper()
	cfg := pool.Config().ConnConfig
	u := url.URL{Scheme: "postgres", User: url.User(cfg.User), Host: p.ln.Addr().String(), Path: "/" + cfg.Database, RawQuery: "sslmode=disable"}
	pp, err := pgxpool.New(testCtx(t), u.String())
	require.NoError(t, err)
	t.Cleanup(pp.Close)
	return pp
}
