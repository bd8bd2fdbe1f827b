package bridge

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit"
)

var (
	proxyNets = WithTrustedProxies("10.0.0.0/8", "fd00::/8")
	useFwd    = WithClientIPHeader("forwarded")
)

// serve runs one request through the middleware and returns the client the
// wrapped handler found in its context.
func serve(t testing.TB, r *http.Request, opts ...MiddlewareOption) otelaudit.Client {
	t.Helper()
	var (
		got    otelaudit.Client
		called bool
	)
	mw, err := NewMiddleware(opts...)
	require.NoError(t, err)
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, called = ClientFromContext(r.Context())
		w.WriteHeader(http.StatusNoContent)
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	require.True(t, called, "no client in the request context")
	require.Equal(t, http.StatusNoContent, w.Code)
	return got
}

func TestMiddlewareClientIP(t *testing.T) {
	tests := []struct {
		name   string
		remote string
		header http.Header
		opts   []MiddlewareOption
		want   string
	}{
		// The socket peer.
		{name: "IPv4 peer", remote: "203.0.113.7:52100", want: "203.0.113.7"},
		{name: "IPv6 peer", remote: "[2001:db8::1]:443", want: "2001:db8::1"},
		{name: "IPv6 peer not canonical", remote: "[2001:0db8:0000::0001]:443", want: "2001:db8::1"},
		{name: "IPv6 peer with zone", remote: "[fe80::1%eth0]:443", want: "fe80::1"},
		{name: "IPv4-mapped peer", remote: "[::ffff:203.0.113.7]:80", want: "203.0.113.7"},
		{name: "peer without port", remote: "203.0.113.7", want: "203.0.113.7"},
		{name: "IPv6 peer without port", remote: "2001:db8::1", want: "2001:db8::1"},
		{name: "peer not an address", remote: "@", want: ""},
		{name: "empty peer", remote: "", want: ""},
		{name: "peer with bad port", remote: "203.0.113.7:http", want: ""},

		// Headers from peers that are not trusted proxies are ignored.
		{
			name: "spoofed XFF, no trusted proxies", remote: "203.0.113.7:1",
			header: http.Header{"X-Forwarded-For": {"198.51.100.9"}}, want: "203.0.113.7",
		},
		{
			name: "spoofed XFF from untrusted peer", remote: "203.0.113.7:1", opts: []MiddlewareOption{proxyNets},
			header: http.Header{"X-Forwarded-For": {"198.51.100.9, 10.0.0.2"}}, want: "203.0.113.7",
		},
		{
			name: "spoofed Forwarded from untrusted peer", remote: "[2001:db8::7]:1", opts: []MiddlewareOption{proxyNets, useFwd},
			header: http.Header{"Forwarded": {"for=198.51.100.9"}}, want: "2001:db8::7",
		},
		{
			name: "spoofed X-Real-IP from untrusted peer", remote: "203.0.113.7:1",
			opts:   []MiddlewareOption{proxyNets, WithClientIPHeader("X-Real-IP")},
			header: http.Header{"X-Real-Ip": {"198.51.100.9"}}, want: "203.0.113.7",
		},

		// X-Forwarded-For through trusted proxies.
		{
			name: "trusted proxy, no header", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets},
			want: "10.0.0.1",
		},
		{
			name: "trusted proxy, one hop", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets},
			header: http.Header{"X-Forwarded-For": {"198.51.100.9"}}, want: "198.51.100.9",
		},
		{
			name: "trusted proxy chain", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets},
			header: http.Header{"X-Forwarded-For": {"198.51.100.9, 10.0.0.3,10.0.0.2"}}, want: "198.51.100.9",
		},
		{
			name: "client-forged leftmost entries are skipped", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets},
			header: http.Header{"X-Forwarded-For": {"1.2.3.4, 10.9.9.9, 198.51.100.9, 10.0.0.2"}}, want: "198.51.100.9",
		},
		{
			name: "multiple header lines", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets},
			header: http.Header{"X-Forwarded-For": {"1.2.3.4, 198.51.100.9", "10.0.0.3", "10.0.0.2"}}, want: "198.51.100.9",
		},
		{
			name: "multiple header lines, client in the last", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets},
			header: http.Header{"X-Forwarded-For": {"1.2.3.4", "198.51.100.9, 10.0.0.2"}}, want: "198.51.100.9",
		},
		{
			name: "all hops trusted", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets},
			header: http.Header{"X-Forwarded-For": {"10.0.0.5, 10.0.0.2"}}, want: "10.0.0.5",
		},
		{
			name: "empty elements and lines", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets},
			header: http.Header{"X-Forwarded-For": {"", " , 198.51.100.9 ,, ", "\t"}}, want: "198.51.100.9",
		},
		{
			name: "a line starting with a comma", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets},
			header: http.Header{"X-Forwarded-For": {",198.51.100.9"}}, want: "198.51.100.9",
		},
		{
			name: "only empty elements", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets},
			header: http.Header{"X-Forwarded-For": {",, ,"}}, want: "10.0.0.1",
		},
		{
			name: "entry with port", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets},
			header: http.Header{"X-Forwarded-For": {"198.51.100.9:4711"}}, want: "198.51.100.9",
		},
		{
			name: "IPv6 entry", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets},
			header: http.Header{"X-Forwarded-For": {"2001:DB8::9"}}, want: "2001:db8::9",
		},
		{
			name: "bracketed IPv6 entry with port", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets},
			header: http.Header{"X-Forwarded-For": {"[2001:db8::9]:4711, 10.0.0.2"}}, want: "2001:db8::9",
		},
		{
			name: "IPv4-mapped entry", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets},
			header: http.Header{"X-Forwarded-For": {"198.51.100.9, ::ffff:10.0.0.2"}}, want: "198.51.100.9",
		},
		{
			name: "IPv6 proxy", remote: "[fd00::1]:1", opts: []MiddlewareOption{proxyNets},
			header: http.Header{"X-Forwarded-For": {"198.51.100.9, fd00::2"}}, want: "198.51.100.9",
		},
		{
			name: "IPv4-mapped proxy peer", remote: "[::ffff:10.0.0.1]:1", opts: []MiddlewareOption{proxyNets},
			header: http.Header{"X-Forwarded-For": {"198.51.100.9"}}, want: "198.51.100.9",
		},
		{
			name: "IPv4-mapped trusted prefix", remote: "10.0.0.1:1",
			opts:   []MiddlewareOption{WithTrustedProxies("::ffff:10.0.0.0/104")},
			header: http.Header{"X-Forwarded-For": {"198.51.100.9"}}, want: "198.51.100.9",
		},
		{
			name: "IPv4-mapped trusted prefix, last address in it", remote: "10.255.255.255:1",
			opts:   []MiddlewareOption{WithTrustedPrefixes(netip.MustParsePrefix("::ffff:10.0.0.0/104"))},
			header: http.Header{"X-Forwarded-For": {"198.51.100.9"}}, want: "198.51.100.9",
		},
		{
			name: "IPv4-mapped trusted prefix, peer outside it", remote: "11.0.0.1:1",
			opts:   []MiddlewareOption{WithTrustedPrefixes(netip.MustParsePrefix("::ffff:10.0.0.0/104"))},
			header: http.Header{"X-Forwarded-For": {"198.51.100.9"}}, want: "11.0.0.1",
		},
		{
			name: "IPv4-mapped trusted prefix, peer just below it", remote: "9.255.255.255:1",
			opts:   []MiddlewareOption{WithTrustedPrefixes(netip.MustParsePrefix("::ffff:10.0.0.0/104"))},
			header: http.Header{"X-Forwarded-For": {"198.51.100.9"}}, want: "9.255.255.255",
		},
		{
			name: "IPv4-mapped trusted prefix, mapped peer outside it", remote: "[::ffff:11.0.0.1]:1",
			opts:   []MiddlewareOption{WithTrustedPrefixes(netip.MustParsePrefix("::ffff:10.0.0.0/104"))},
			header: http.Header{"X-Forwarded-For": {"198.51.100.9"}}, want: "11.0.0.1",
		},
		{
			name: "IPv4-mapped trusted prefix, hop outside it is the client", remote: "10.0.0.1:1",
			opts:   []MiddlewareOption{WithTrustedPrefixes(netip.MustParsePrefix("::ffff:10.0.0.0/104"))},
			header: http.Header{"X-Forwarded-For": {"198.51.100.9, 11.0.0.2, 10.0.0.2"}}, want: "11.0.0.2",
		},
		{
			name: "IPv4-mapped /128 trusts one address", remote: "192.0.2.2:1",
			opts:   []MiddlewareOption{WithTrustedPrefixes(netip.MustParsePrefix("::ffff:192.0.2.1/128"))},
			header: http.Header{"X-Forwarded-For": {"198.51.100.9"}}, want: "192.0.2.2",
		},
		{
			name: "IPv6 prefix does not trust IPv4 peers", remote: "10.0.0.1:1",
			opts:   []MiddlewareOption{WithTrustedPrefixes(netip.MustParsePrefix("::/0"))},
			header: http.Header{"X-Forwarded-For": {"198.51.100.9"}}, want: "10.0.0.1",
		},
		{
			name: "trusted proxies added up", remote: "192.168.1.1:1",
			opts: []MiddlewareOption{
				WithTrustedProxies("10.0.0.0/8"),
				WithTrustedPrefixes(netip.MustParsePrefix("192.168.1.1/16")),
			},
			header: http.Header{"X-Forwarded-For": {"198.51.100.9, 10.0.0.2"}}, want: "198.51.100.9",
		},
		{
			name: "Forwarded ignored when reading XFF", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets},
			header: http.Header{"Forwarded": {"for=198.51.100.9"}}, want: "10.0.0.1",
		},
		{
			name: "X-Real-IP", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets, WithClientIPHeader("x-real-ip")},
			header: http.Header{"X-Real-Ip": {"198.51.100.9"}, "X-Forwarded-For": {"1.2.3.4"}}, want: "198.51.100.9",
		},

		// Garbage falls back to the socket peer.
		{
			name: "garbage nearest hop", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets},
			header: http.Header{"X-Forwarded-For": {"198.51.100.9, not-an-ip"}}, want: "10.0.0.1",
		},
		{
			name: "garbage left of the client is never reached", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets},
			header: http.Header{"X-Forwarded-For": {"garbage, 198.51.100.9"}}, want: "198.51.100.9",
		},
		{
			name: "garbage between trusted hops", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets},
			header: http.Header{"X-Forwarded-For": {"198.51.100.9, 300.1.1.1, 10.0.0.2"}}, want: "10.0.0.1",
		},
		{
			name: "binary garbage", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets},
			header: http.Header{"X-Forwarded-For": {"\x00\xff[]:%,\"\x7f"}}, want: "10.0.0.1",
		},
		{
			name: "unclosed bracket", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets},
			header: http.Header{"X-Forwarded-For": {"[2001:db8::9"}}, want: "10.0.0.1",
		},
		{
			name: "IPv4 in brackets", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets},
			header: http.Header{"X-Forwarded-For": {"[198.51.100.9]"}}, want: "10.0.0.1",
		},
		{
			name: "port out of range", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets},
			header: http.Header{"X-Forwarded-For": {"198.51.100.9:65536"}}, want: "10.0.0.1",
		},

		// RFC 7239 Forwarded through trusted proxies.
		{
			name: "Forwarded one hop", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets, useFwd},
			header: http.Header{"Forwarded": {"for=198.51.100.9"}}, want: "198.51.100.9",
		},
		{
			name: "Forwarded quoted IPv6 with port", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets, useFwd},
			header: http.Header{"Forwarded": {`for="[2001:db8:cafe::17]:4711"`}}, want: "2001:db8:cafe::17",
		},
		{
			name: "Forwarded quoted IPv4 with port", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets, useFwd},
			header: http.Header{"Forwarded": {`For="198.51.100.9:80"`}}, want: "198.51.100.9",
		},
		{
			name: "Forwarded quoted-pair", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets, useFwd},
			header: http.Header{"Forwarded": {`for="\[2001:db8::9\]"`}}, want: "2001:db8::9",
		},
		{
			name: "Forwarded with other parameters", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets, useFwd},
			header: http.Header{"Forwarded": {"proto=https;for=198.51.100.9;by=10.0.0.1 ; host=example.com"}}, want: "198.51.100.9",
		},
		{
			name: "Forwarded chain", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets, useFwd},
			header: http.Header{"Forwarded": {"for=1.2.3.4, for=198.51.100.9;proto=https, for=10.0.0.2"}}, want: "198.51.100.9",
		},
		{
			name: "Forwarded comma inside quotes", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets, useFwd},
			header: http.Header{"Forwarded": {`for=198.51.100.9;host="a,b", for=10.0.0.2`}}, want: "198.51.100.9",
		},
		{
			name: "Forwarded lines", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets, useFwd},
			header: http.Header{"Forwarded": {"for=1.2.3.4", "for=198.51.100.9", "for=10.0.0.2"}}, want: "198.51.100.9",
		},
		{
			name: "Forwarded unquoted IPv6 leniently", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets, useFwd},
			header: http.Header{"Forwarded": {"for=[2001:db8::9]:80"}}, want: "2001:db8::9",
		},
		{
			name: "Forwarded obfuscated port", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets, useFwd},
			header: http.Header{"Forwarded": {`for="198.51.100.9:_p1"`}}, want: "198.51.100.9",
		},
		{
			name: "Forwarded obfuscated node", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets, useFwd},
			header: http.Header{"Forwarded": {"for=198.51.100.9, for=_hidden"}}, want: "10.0.0.1",
		},
		{
			name: "Forwarded unknown", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets, useFwd},
			header: http.Header{"Forwarded": {"for=unknown"}}, want: "10.0.0.1",
		},
		{
			name: "Forwarded element without for", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets, useFwd},
			header: http.Header{"Forwarded": {"for=198.51.100.9, proto=https"}}, want: "10.0.0.1",
		},
		{
			name: "Forwarded for twice", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets, useFwd},
			header: http.Header{"Forwarded": {"for=198.51.100.9;for=1.2.3.4"}}, want: "10.0.0.1",
		},
		{
			name: "Forwarded unterminated quote", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets, useFwd},
			header: http.Header{"Forwarded": {`for="198.51.100.9`}}, want: "10.0.0.1",
		},
		{
			name: "Forwarded quoted string ending in a backslash", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets, useFwd},
			header: http.Header{"Forwarded": {`for="198.51.100.9\`}}, want: "10.0.0.1",
		},
		{
			name: "Forwarded token characters, ! first", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets, useFwd},
			header: http.Header{"Forwarded": {"for=198.51.100.9;ext!=!a~"}}, want: "198.51.100.9",
		},
		{
			name: "Forwarded pair without value", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets, useFwd},
			header: http.Header{"Forwarded": {"for"}}, want: "10.0.0.1",
		},
		{
			name: "Forwarded empty value", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets, useFwd},
			header: http.Header{"Forwarded": {"for="}}, want: "10.0.0.1",
		},
		{
			name: "Forwarded junk after value", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets, useFwd},
			header: http.Header{"Forwarded": {`for="198.51.100.9"x`}}, want: "10.0.0.1",
		},
		// A malformed element stops the walk: nothing left of it (in its
		// line or in earlier lines) is read, even a well-formed client.
		{
			name: "Forwarded malformed line right of a good one", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets, useFwd},
			header: http.Header{"Forwarded": {"for=198.51.100.9", `for="10.0.0.2`}}, want: "10.0.0.1",
		},
		{
			name: "Forwarded malformed element right of a good one", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets, useFwd},
			header: http.Header{"Forwarded": {`for=198.51.100.9, for="10.0.0.2`}}, want: "10.0.0.1",
		},
		{
			name: "Forwarded malformed element between trusted hops", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets, useFwd},
			header: http.Header{"Forwarded": {"for=198.51.100.9", "for=10.0.0.3;junk", "for=10.0.0.2"}}, want: "10.0.0.1",
		},
		{
			name: "Forwarded junk after a trusted hop", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets, useFwd},
			header: http.Header{"Forwarded": {"for=1.2.3.4, for=198.51.100.9", "for=10.0.0.2 junk"}}, want: "10.0.0.1",
		},
		{
			name: "Forwarded pair without value right of a good one", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets, useFwd},
			header: http.Header{"Forwarded": {"for=198.51.100.9, for"}}, want: "10.0.0.1",
		},
		{
			name: "Forwarded malformed element left of the client is never reached", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets, useFwd},
			header: http.Header{"Forwarded": {`for="1.2.3.4`, "for=198.51.100.9, for=10.0.0.2"}}, want: "198.51.100.9",
		},
		// Elements are read one by one from the right: a malformed element
		// a client put at the start of the line does not hide the elements
		// the trusted proxies appended to it.
		{
			name: "Forwarded unterminated quote left of the proxy's element", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets, useFwd},
			header: http.Header{"Forwarded": {`for="1.2.3.4, for=198.51.100.9, for=10.0.0.2`}}, want: "198.51.100.9",
		},
		{
			name: "Forwarded junk element left of the proxy's element", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets, useFwd},
			header: http.Header{"Forwarded": {`junk;;=x y, for=198.51.100.9`}}, want: "198.51.100.9",
		},
		{
			name: "Forwarded stray quote in a client element", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets, useFwd},
			header: http.Header{"Forwarded": {`for=x"y, for=198.51.100.9, for=10.0.0.2`}}, want: "198.51.100.9",
		},
		{
			name: "Forwarded escaped quote and comma in a quoted string", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets, useFwd},
			header: http.Header{"Forwarded": {`for="1.2.3.4, for=198.51.100.9, for=10.0.0.3;host="x\"y,z", for=10.0.0.2`}}, want: "198.51.100.9",
		},
		{
			name: "Forwarded escaped backslash before a closing quote", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets, useFwd},
			header: http.Header{"Forwarded": {`for=1.2.3.4;host="a\\", for=198.51.100.9;host="b,c", for=10.0.0.2`}}, want: "198.51.100.9",
		},
		{
			name: "Forwarded malformed element between two untrusted ones", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets, useFwd},
			header: http.Header{"Forwarded": {`for=1.2.3.4, for="5.6.7.8, for=10.0.0.2`}}, want: "10.0.0.1",
		},
		{
			name: "Forwarded empty elements", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets, useFwd},
			header: http.Header{"Forwarded": {", for=198.51.100.9 ,;, "}}, want: "198.51.100.9",
		},
		{
			name: "XFF ignored when reading Forwarded", remote: "10.0.0.1:1", opts: []MiddlewareOption{proxyNets, useFwd},
			header: http.Header{"X-Forwarded-For": {"198.51.100.9"}}, want: "10.0.0.1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.remote
			r.Header = tt.header
			if r.Header == nil {
				r.Header = http.Header{}
			}
			require.Equal(t, tt.want, serve(t, r, tt.opts...).IP)
		})
	}
}

func TestMiddlewareUserAgentAndSession(t *testing.T) {
	tests := []struct {
		name string
		ua   []string
		opts []MiddlewareOption
		want otelaudit.Client
	}{
		{name: "none", want: otelaudit.Client{IP: "192.0.2.1"}},
		{name: "user agent", ua: []string{"Mozilla/5.0 (X11; Linux x86_64)"}, want: otelaudit.Client{IP: "192.0.2.1", UserAgent: "Mozilla/5.0 (X11; Linux x86_64)"}},
		{name: "user agent kept as is", ua: []string{"bad\x00agent\xff"}, want: otelaudit.Client{IP: "192.0.2.1", UserAgent: "bad\x00agent\xff"}},
		{
			name: "session id",
			ua:   []string{"app/1.0"},
			opts: []MiddlewareOption{WithSessionID(func(r *http.Request) string {
				c, err := r.Cookie("sid")
				if err != nil {
					return ""
				}
				return c.Value
			})},
			want: otelaudit.Client{IP: "192.0.2.1", UserAgent: "app/1.0", SessionID: "s-123"},
		},
		{name: "nil session function", opts: []MiddlewareOption{WithSessionID(nil), nil}, want: otelaudit.Client{IP: "192.0.2.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = "192.0.2.1:1234"
			r.AddCookie(&http.Cookie{Name: "sid", Value: "s-123"})
			for _, ua := range tt.ua {
				r.Header.Add("User-Agent", ua)
			}
			require.Equal(t, tt.want, serve(t, r, tt.opts...))
		})
	}
}

func TestMiddlewareNilHandler(t *testing.T) {
	mw, err := NewMiddleware()
	require.NoError(t, err)
	w := httptest.NewRecorder()
	mw(nil).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	require.Equal(t, http.StatusNotFound, w.Code)
}

// setPropagator sets the global propagator for the test and restores the
// previous one after it.
func setPropagator(t *testing.T, p propagation.TextMapPropagator) {
	prev := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(p)
	t.Cleanup(func() { otel.SetTextMapPropagator(prev) })
}

func TestMiddlewareTraceContext(t *testing.T) {
	setPropagator(t, propagation.TraceContext{})
	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

	otherTrace := trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	otherSpan := trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8}
	active := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: otherTrace, SpanID: otherSpan, TraceFlags: trace.FlagsSampled,
	}))

	// The peer, 198.51.100.9, is a trusted proxy unless a case says
	// otherwise.
	trustPeer := WithTrustedProxies("198.51.100.0/24")
	tests := []struct {
		name        string
		ctx         context.Context
		opts        []MiddlewareOption
		traceparent string
		wantTrace   trace.TraceID
		wantSpan    trace.SpanID
	}{
		{name: "from a trusted proxy's traceparent header", ctx: context.Background(), opts: []MiddlewareOption{trustPeer}, traceparent: traceparent, wantTrace: testTraceID, wantSpan: testSpanID},
		{name: "an untrusted peer's header is ignored", ctx: context.Background(), traceparent: traceparent},
		{name: "an untrusted peer's header with WithTraceContextFromAnyPeer", ctx: context.Background(), opts: []MiddlewareOption{WithTraceContextFromAnyPeer()}, traceparent: traceparent, wantTrace: testTraceID, wantSpan: testSpanID},
		{name: "no header", ctx: context.Background(), opts: []MiddlewareOption{trustPeer}},
		{name: "malformed header", ctx: context.Background(), opts: []MiddlewareOption{trustPeer}, traceparent: "00-zz-00f067aa0ba902b7-01"},
		{name: "active span wins", ctx: active, opts: []MiddlewareOption{trustPeer}, traceparent: traceparent, wantTrace: otherTrace, wantSpan: otherSpan},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			mw, err := NewMiddleware(tt.opts...)
			require.NoError(t, err)
			handler := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				h.auditor.Login(r.Context(), testActor)
			}))
			r := httptest.NewRequestWithContext(tt.ctx, http.MethodPost, "/login", nil)
			r.RemoteAddr = "198.51.100.9:3333"
			r.Header.Set("User-Agent", "curl/8.5.0")
			if tt.traceparent != "" {
				r.Header.Set("Traceparent", tt.traceparent)
			}
			handler.ServeHTTP(httptest.NewRecorder(), r)

			rec := h.only(t)
			require.Equal(t, "audit.login", rec.EventName())
			require.Equal(t, tt.wantTrace, rec.TraceID())
			require.Equal(t, tt.wantSpan, rec.SpanID())
			requireAttrs(t, rec, merge(testActorAttrs, success, map[string]attribute.Value{
				otelaudit.KeyClientAddress: str("198.51.100.9"),
				otelaudit.KeyUserAgent:     str("curl/8.5.0"),
			}))
		})
	}
}

// fuzzTrusted are the trusted prefixes of FuzzMiddlewareClientIP: plain
// ones and IPv4-mapped ones (::ffff:192.168.0.0/112 trusts 192.168.0.0/16
// and nothing else). A mapped prefix wider than the mapped space is
// refused by NewMiddleware (TestMappedPrefixWiderThanIPv4IsRefused).
var fuzzTrusted = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("fd00::/8"),
	netip.MustParsePrefix("::ffff:192.168.0.0/112"),
	netip.MustParsePrefix("::ffff:203.0.113.5/128"),
}

// TestMappedPrefixWiderThanIPv4IsRefused: an IPv4-mapped prefix shorter
// than /96 would cover more than the IPv4 addresses it maps; NewMiddleware
// refuses it rather than guess.
func TestMappedPrefixWiderThanIPv4IsRefused(t *testing.T) {
	for _, p := range []string{"::ffff:10.0.0.0/95", "::ffff:0.0.0.0/90"} {
		_, err := NewMiddleware(WithTrustedPrefixes(netip.MustParsePrefix(p)))
		require.ErrorIs(t, err, ErrInvalidTrustedProxy, p)
		_, err = NewMiddleware(WithTrustedProxies(p))
		require.ErrorIs(t, err, ErrInvalidTrustedProxy, p)
	}
	// /96 exactly maps all of IPv4: accepted, and every IPv4 peer is
	// trusted, an IPv6 one not.
	c, err := newMiddlewareConfig([]MiddlewareOption{WithTrustedProxies("::ffff:0.0.0.0/96")})
	require.NoError(t, err)
	require.Equal(t, []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}, c.trusted)
	for remote, want := range map[string]string{"203.0.113.1:1": "198.51.100.9", "[2001:db8::1]:1": "2001:db8::1"} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", "198.51.100.9")
		require.Equal(t, want, serve(t, r, WithTrustedProxies("::ffff:0.0.0.0/96")).IP, remote)
	}
}

// trustedBy is what WithTrustedProxies documents, written independently:
// a is trusted when a prefix contains it, an IPv4-mapped prefix of at
// least 96 bits standing for the IPv4 addresses it maps.
func trustedBy(prefixes []netip.Prefix, a netip.Addr) bool {
	for _, p := range prefixes {
		if p.Addr().Is4In6() {
			if p.Bits() >= 96 && a.Is4() && p.Contains(netip.AddrFrom16(a.As16())) {
				return true
			}
			continue
		}
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func FuzzMiddlewareClientIP(f *testing.F) {
	f.Add("10.0.0.1:1", "198.51.100.9, 10.0.0.2", "", false)
	f.Add("10.0.0.1:1", "", `for="[2001:db8::1]:80";proto=https, for=10.0.0.2`, true)
	f.Add("203.0.113.7:1", "198.51.100.9", "for=198.51.100.9", false)
	f.Add("[fd00::1]:1", "[2001:db8::9]:4711,,", "for=_hidden", true)
	f.Add("[::ffff:10.0.0.1]:8080", "::ffff:1.2.3.4", `for="\"`, true)
	f.Add("garbage", "\x00\xff", "for=unknown;for=1", true)
	// The mapped prefixes: trusted inside them, not one address outside.
	f.Add("192.168.3.4:1", "198.51.100.9", "", false)
	f.Add("[::ffff:192.168.255.255]:1", "198.51.100.9", "", false)
	f.Add("192.169.0.1:1", "198.51.100.9", "", false)
	f.Add("11.0.0.1:1", "198.51.100.9", "", false)
	f.Add("203.0.113.5:1", "198.51.100.9", "", false)
	f.Add("203.0.113.6:1", "198.51.100.9", "", false)
	f.Add("192.168.0.1:1", "", "for=198.51.100.9", true)
	f.Add("[::ffff:c0a8:1]:1", "198.51.100.9", "", false)

	f.Fuzz(func(t *testing.T, remote, xffValue, fwdValue string, forwarded bool) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = remote
		r.Header = http.Header{"X-Forwarded-For": {xffValue, fwdValue}, "Forwarded": {fwdValue, xffValue}}
		opts := []MiddlewareOption{WithTrustedPrefixes(fuzzTrusted...)}
		if forwarded {
			opts = append(opts, useFwd)
		}
		got := serve(t, r, opts...).IP
		ap, err := netip.ParseAddrPort(remote)
		if err != nil {
			if got != "" {
				a, err := netip.ParseAddr(got)
				require.NoError(t, err, "%q is not an IP", got)
				require.Equal(t, a.String(), got, "not canonical")
			}
			return
		}
		require.NotEmpty(t, got, "the peer %q is an address", remote)
		a, err := netip.ParseAddr(got)
		require.NoError(t, err, "%q is not an IP", got)
		require.Equal(t, a.String(), got, "not canonical")
		require.Empty(t, a.Zone())
		require.False(t, a.Is4In6(), "mapped")

		peer := ap.Addr().WithZone("").Unmap()
		if !trustedBy(fuzzTrusted, peer) {
			require.Equal(t, peer.String(), got, "an untrusted peer changed its address with headers")
			return
		}
		// A trusted peer whose X-Forwarded-For holds one untrusted address
		// (and an empty second line): that address is the client.
		if !forwarded && strings.Trim(fwdValue, " \t") == "" {
			if hop, err := netip.ParseAddr(strings.Trim(xffValue, " \t")); err == nil && hop.Zone() == "" {
				if hop = hop.Unmap(); !trustedBy(fuzzTrusted, hop) {
					require.Equal(t, hop.String(), got, "the trusted peer's forwarded client")
				}
			}
		}
	})
}

func TestMiddlewareTrustedProxiesFromStrings(t *testing.T) {
	valid := []struct {
		name    string
		proxies []string
		trusted []string // peers whose X-Forwarded-For is read
		not     []string // peers whose X-Forwarded-For is ignored
	}{
		{name: "IPv4 prefix", proxies: []string{"10.0.0.0/8"}, trusted: []string{"10.0.0.1", "10.255.255.255"}, not: []string{"11.0.0.1"}},
		{name: "IPv4 address", proxies: []string{"192.0.2.10"}, trusted: []string{"192.0.2.10"}, not: []string{"192.0.2.11"}},
		{name: "IPv6 address", proxies: []string{"2001:db8::2"}, trusted: []string{"2001:db8::2"}, not: []string{"2001:db8::3"}},
		{name: "IPv6 prefix", proxies: []string{"fd00::/8"}, trusted: []string{"fd12::1"}, not: []string{"fe80::1"}},
		{name: "host bits set", proxies: []string{"10.1.2.3/8"}, trusted: []string{"10.9.9.9"}, not: []string{"11.0.0.1"}},
		{name: "IPv4-mapped prefix", proxies: []string{"::ffff:10.0.0.0/104"}, trusted: []string{"10.0.0.7"}, not: []string{"11.0.0.1"}},
		{name: "IPv4-mapped address", proxies: []string{"::ffff:192.0.2.10"}, trusted: []string{"192.0.2.10"}, not: []string{"192.0.2.11"}},
		{name: "spaces and empty entries", proxies: strings.Split(" 10.0.0.1 ,, 192.0.2.0/24 ,", ","), trusted: []string{"10.0.0.1", "192.0.2.99"}, not: []string{"10.0.0.2"}},
		{name: "none", proxies: nil, not: []string{"10.0.0.1", "127.0.0.1"}},
		{name: "only empty", proxies: []string{""}, not: []string{"10.0.0.1"}},
	}
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			opt := WithTrustedProxies(tt.proxies...)
			for _, peer := range append(tt.trusted, tt.not...) {
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				r.RemoteAddr = net.JoinHostPort(peer, "4711")
				r.Header.Set("X-Forwarded-For", "198.51.100.9")
				want := peer
				if slices.Contains(tt.trusted, peer) {
					want = "198.51.100.9"
				}
				require.Equal(t, want, serve(t, r, opt).IP, "peer %s", peer)
			}
		})
	}

	invalid := []struct {
		name    string
		proxies []string
		bad     []string // the entries the error names
	}{
		{name: "hostname", proxies: []string{"proxy.internal"}, bad: []string{"proxy.internal"}},
		{name: "address with port", proxies: []string{"10.0.0.1:8080"}, bad: []string{"10.0.0.1:8080"}},
		{name: "prefix length too long", proxies: []string{"10.0.0.0/33"}, bad: []string{"10.0.0.0/33"}},
		{name: "IPv6 prefix length too long", proxies: []string{"fd00::/129"}, bad: []string{"fd00::/129"}},
		{name: "zone", proxies: []string{"fe80::1%eth0"}, bad: []string{"fe80::1%eth0"}},
		{name: "mapped prefix too short", proxies: []string{"::ffff:0.0.0.0/80"}, bad: []string{"::ffff:0.0.0.0/80"}},
		{name: "garbage", proxies: []string{"10.0.0.0/8", "not a proxy", "192.0.2.1", "1.2.3"}, bad: []string{"not a proxy", "1.2.3"}},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			mw, err := NewMiddleware(WithTrustedProxies(tt.proxies...))
			require.ErrorIs(t, err, ErrInvalidTrustedProxy)
			require.Nil(t, mw)
			for _, b := range tt.bad {
				require.Contains(t, err.Error(), fmt.Sprintf("%q", b))
			}
		})
	}

	t.Run("invalid netip.Prefix", func(t *testing.T) {
		_, err := NewMiddleware(WithTrustedPrefixes(netip.MustParsePrefix("10.0.0.0/8"), netip.Prefix{}))
		require.ErrorIs(t, err, ErrInvalidTrustedProxy)
	})
}

// TestMiddlewareInRouterChain runs the middleware as one link of a chain of
// two func(http.Handler) http.Handler in front of a net/http ServeMux, the
// way routers chain middleware, and checks that the audit records of the
// routed handler carry the client from the trusted proxy's header and the
// values the other link put in the context.
func TestMiddlewareInRouterChain(t *testing.T) {
	h := newHarness(t)
	audit, err := NewMiddleware(WithTrustedProxies("10.0.0.0/8", "192.0.2.10"),
		WithSessionID(func(r *http.Request) string { return r.Header.Get("X-Session") }))
	require.NoError(t, err)

	type requestIDKey struct{}
	requestID := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := r.Header.Get("X-Request-Id")
			w.Header().Set("X-Request-Id", id)
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
		})
	}
	chain := func(h http.Handler, mws ...func(http.Handler) http.Handler) http.Handler {
		for i := len(mws) - 1; i >= 0; i-- {
			h = mws[i](h)
		}
		return h
	}

	mux := http.NewServeMux()
	mux.HandleFunc("PUT /settings/{name}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := r.Context().Value(requestIDKey{}).(string)
		h.auditor.Record(r.Context(), otelaudit.Event{
			Action:     otelaudit.ActionSettingsChanged,
			Actor:      testActor,
			Resource:   otelaudit.Resource{Type: "setting", ID: r.PathValue("name")},
			New:        otelaudit.Value(r.FormValue("value")),
			Attributes: []attribute.KeyValue{attribute.String("request.id", id)},
		})
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(chain(mux, requestID, audit))
	defer srv.Close()

	// The test server's peer is 127.0.0.1, not a trusted proxy: the header is
	// not read. Then the same handler chain behind a trusted proxy.
	req, err := http.NewRequest(http.MethodPut, srv.URL+"/settings/theme?value=dark", nil)
	require.NoError(t, err)
	req.Header.Set("X-Forwarded-For", "198.51.100.9")
	req.Header.Set("X-Request-Id", "req-1")
	req.Header.Set("X-Session", "sess-1")
	req.Header.Set("User-Agent", "chain-test/1.0")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.Equal(t, "req-1", resp.Header.Get("X-Request-Id"))

	r := httptest.NewRequest(http.MethodPut, "/settings/lang?value=fr", nil)
	r.RemoteAddr = "192.0.2.10:5555"
	r.Header.Set("X-Forwarded-For", "203.0.113.7, 10.1.2.3")
	r.Header.Set("X-Request-Id", "req-2")
	r.Header.Set("User-Agent", "chain-test/1.0")
	w := httptest.NewRecorder()
	chain(mux, requestID, audit).ServeHTTP(w, r)
	require.Equal(t, http.StatusNoContent, w.Code)

	rs := h.exp.Records()
	require.Len(t, rs, 2)
	base := merge(testActorAttrs, success, map[string]attribute.Value{
		otelaudit.KeyResourceType: str("setting"),
		otelaudit.KeyUserAgent:    str("chain-test/1.0"),
	})
	requireAttrs(t, rs[0], merge(base, map[string]attribute.Value{
		otelaudit.KeyClientAddress: str("127.0.0.1"),
		otelaudit.KeySessionID:     str("sess-1"),
		otelaudit.KeyResourceID:    str("theme"),
		otelaudit.KeyNew:           str("dark"),
		"request.id":               str("req-1"),
	}))
	requireAttrs(t, rs[1], merge(base, map[string]attribute.Value{
		otelaudit.KeyClientAddress: str("203.0.113.7"),
		otelaudit.KeyResourceID:    str("lang"),
		otelaudit.KeyNew:           str("fr"),
		"request.id":               str("req-2"),
	}))
}

func TestMiddlewareConcurrentSafe(t *testing.T) {
	mw, err := NewMiddleware(WithTrustedProxies("10.0.0.0/8"), WithSessionID(func(r *http.Request) string { return r.Header.Get("X-Session") }))
	require.NoError(t, err)
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := ClientFromContext(r.Context())
		if c.IP != r.Header.Get("X-Want-IP") || c.SessionID != r.Header.Get("X-Session") {
			w.WriteHeader(http.StatusConflict)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	const goroutines, perG = 8, 200
	var wg sync.WaitGroup
	codes := make([][]int, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				r.RemoteAddr = fmt.Sprintf("10.0.%d.%d:1", g, i%250)
				client := fmt.Sprintf("198.51.%d.%d", g, i%250)
				r.Header.Set("X-Forwarded-For", client)
				r.Header.Set("X-Want-IP", client)
				r.Header.Set("X-Session", fmt.Sprintf("s-%d-%d", g, i))
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				codes[g] = append(codes[g], w.Code)
			}
		})
	}
	wg.Wait()
	for g := range goroutines {
		require.Len(t, codes[g], perG)
		for _, c := range codes[g] {
			require.Equal(t, http.StatusNoContent, c)
		}
	}
}

// TestParseNode pins the address forms a hop may take, at the edges of
// each rule: port digits and range, obfuscated ports, brackets, zones and
// IPv4-mapped addresses.
func TestParseNode(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want string // "" when refused
	}{
		{"192.0.2.1", "192.0.2.1"},
		{"192.0.2.1:0", "192.0.2.1"},
		{"192.0.2.1:9", "192.0.2.1"},
		{"192.0.2.1:80", "192.0.2.1"},
		{"192.0.2.1:65535", "192.0.2.1"},
		{"192.0.2.1:00080", "192.0.2.1"}, // five digits
		{"192.0.2.1:65536", ""},
		{"192.0.2.1:99999", ""},
		{"192.0.2.1:000080", ""}, // six digits
		{"192.0.2.1:", ""},
		{"192.0.2.1:8a", ""},
		{"192.0.2.1:/", ""},
		{"192.0.2.1::", ""},
		{"192.0.2.1:_09azAZ.-_", "192.0.2.1"},
		{"192.0.2.1:_", ""},
		{"192.0.2.1:_a/", ""},
		{"192.0.2.1:_a:", ""},
		{"192.0.2.1:_a@", ""},
		{"192.0.2.1:_a[", ""},
		{"192.0.2.1:_a`", ""},
		{"192.0.2.1:_a{", ""},
		{"2001:db8::1:80", "2001:db8::1:80"}, // no brackets: all of it is the address
		{"[2001:db8::1]", "2001:db8::1"},
		{"[2001:db8::1]:65535", "2001:db8::1"},
		{"[2001:db8::1]:_p1", "2001:db8::1"},
		{"[2001:db8::1]:65536", ""},
		{"[2001:db8::1]:", ""},
		{"[2001:db8::1]80", ""},
		{"[2001:db8::1", ""},
		{"[]", ""},
		{"[192.0.2.1]", ""},
		{"[fe80::1%eth0]:80", "fe80::1"},
		{"fe80::1%eth0", "fe80::1"},
		{"[::ffff:192.0.2.1]:80", "192.0.2.1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"host:80", ""},
		{"", ""},
	} {
		t.Run(tt.in, func(t *testing.T) {
			a, ok := parseNode(tt.in)
			if tt.want == "" {
				require.False(t, ok, "%v", a)
				return
			}
			require.True(t, ok)
			require.Equal(t, tt.want, a.String())
			require.Empty(t, a.Zone())
		})
	}
}
