package bridge

import (
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit"
)

// DefaultClientIPHeader is the header the middleware reads client addresses
// from when the request comes through a trusted proxy. See
// [WithClientIPHeader].
const DefaultClientIPHeader = "X-Forwarded-For"

// MiddlewareOption configures [NewMiddleware].
type MiddlewareOption interface {
	applyMiddleware(middlewareConfig) middlewareConfig
}

type middlewareOptionFunc func(middlewareConfig) middlewareConfig

func (f middlewareOptionFunc) applyMiddleware(c middlewareConfig) middlewareConfig { return f(c) }

type middlewareConfig struct {
	proxies   []string       // from WithTrustedProxies, parsed by NewMiddleware
	prefixes  []netip.Prefix // from WithTrustedPrefixes
	header    string         // canonical header name
	sessionID func(*http.Request) string
	traceAny  bool // trace context from any peer's headers

	trusted []netip.Prefix // all of them, checked and normalised
}

// ErrInvalidTrustedProxy is matched (errors.Is) by the error [NewMiddleware]
// returns for a trusted proxy that is neither an IP address nor a CIDR
// prefix.
var ErrInvalidTrustedProxy = errors.New("otelaudit: invalid trusted proxy")

func newMiddlewareConfig(opts []MiddlewareOption) (middlewareConfig, error) {
	var c middlewareConfig
	for _, o := range opts {
		if o != nil {
			c = o.applyMiddleware(c)
		}
	}
	if c.header == "" {
		c.header = DefaultClientIPHeader
	}
	var errs []error
	for _, s := range c.proxies {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := parseProxy(s)
		if err == nil {
			p, err = normalizePrefix(p)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%w %q: %v", ErrInvalidTrustedProxy, s, err))
			continue
		}
		c.trusted = append(c.trusted, p)
	}
	for _, p := range c.prefixes {
		n, err := normalizePrefix(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w %s: %v", ErrInvalidTrustedProxy, p, err))
			continue
		}
		c.trusted = append(c.trusted, n)
	}
	return c, errors.Join(errs...)
}

// parseProxy parses a trusted proxy: a CIDR prefix or an IP address.
func parseProxy(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, errors.New("not a CIDR prefix (like 10.0.0.0/8 or fd00::/8)")
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, errors.New("not an IP address or CIDR prefix (like 192.0.2.1 or 10.0.0.0/8)")
	}
	if a.Zone() != "" {
		return netip.Prefix{}, errors.New("an address with a zone cannot be matched")
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// normalizePrefix returns p with its host bits cleared, an IPv4-mapped IPv6
// prefix turned into the IPv4 prefix it maps.
func normalizePrefix(p netip.Prefix) (netip.Prefix, error) {
	if !p.IsValid() {
		return netip.Prefix{}, errors.New("not a valid prefix")
	}
	if a := p.Addr(); a.Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, errors.New("an IPv4-mapped prefix shorter than /96 covers more than IPv4 addresses")
		}
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// WithTrustedProxies declares the reverse proxies and load balancers in
// front of the service, each an IP address ("192.0.2.10", "2001:db8::2") or
// a CIDR prefix ("10.0.0.0/8", "fd00::/8"). Only a request whose direct peer
// is one of them has its forwarding header read; see [NewMiddleware].
//
// [NewMiddleware] checks the entries and returns an error matching
// [ErrInvalidTrustedProxy] for any that is neither (an address with a port
// or a zone, a hostname, a prefix length out of range, an IPv4-mapped
// prefix shorter than /96). Surrounding spaces are trimmed and empty entries
// ignored, so that the result of strings.Split on a configuration value can
// be passed as is. A prefix with host bits set ("10.1.2.3/8") means its
// network; an IPv4-mapped IPv6 entry (::ffff:10.0.0.0/104) the IPv4 network
// it maps. Calls add up, and add to [WithTrustedPrefixes]. Default: no
// trusted proxy, so the recorded address is always the socket peer.
func WithTrustedProxies(proxies ...string) MiddlewareOption {
	return middlewareOptionFunc(func(c middlewareConfig) middlewareConfig {
		c.proxies = append(slices.Clip(c.proxies), proxies...)
		return c
	})
}

// WithTrustedPrefixes is [WithTrustedProxies] for prefixes already parsed.
// An invalid prefix (the zero netip.Prefix, say) makes [NewMiddleware]
// return an error matching [ErrInvalidTrustedProxy].
func WithTrustedPrefixes(prefixes ...netip.Prefix) MiddlewareOption {
	return middlewareOptionFunc(func(c middlewareConfig) middlewareConfig {
		c.prefixes = append(slices.Clip(c.prefixes), prefixes...)
		return c
	})
}

// WithClientIPHeader sets the header trusted proxies record client addresses
// in. "Forwarded" (any case) selects RFC 7239 parsing of its for= parameters;
// any other name is read as a comma-separated list of addresses, the way
// X-Forwarded-For is (so X-Real-IP, True-Client-IP or CF-Connecting-IP work
// too). Default: [DefaultClientIPHeader]. An empty name means the default.
//
// Only one header is read, on purpose: a proxy that appends to one header
// passes the other through untouched, so a client could forge it.
func WithClientIPHeader(name string) MiddlewareOption {
	return middlewareOptionFunc(func(c middlewareConfig) middlewareConfig {
		c.header = http.CanonicalHeaderKey(strings.TrimSpace(name))
		return c
	})
}

// WithTraceContextFromAnyPeer makes the middleware take the trace context
// from the headers of any peer, not only of trusted proxies (see
// [NewMiddleware], "Trace context").
func WithTraceContextFromAnyPeer() MiddlewareOption {
	return middlewareOptionFunc(func(c middlewareConfig) middlewareConfig {
		c.traceAny = true
		return c
	})
}

// WithSessionID sets the function that returns the session id of a request
// (from a cookie or a token, say), recorded as [otelaudit.Client.SessionID].
// It is called once per request, before the wrapped handler. Default: no
// session id. A nil function means the default.
func WithSessionID(f func(*http.Request) string) MiddlewareOption {
	return middlewareOptionFunc(func(c middlewareConfig) middlewareConfig {
		c.sessionID = f
		return c
	})
}

// NewMiddleware returns HTTP middleware that puts each request's client
// into the request context before calling the next handler, so that every
// [Auditor] call made with that context (or one derived from it) records
// where the action came from. It has the func(http.Handler) http.Handler
// shape routers chain:
//
//	audit, err := bridge.NewMiddleware(bridge.WithTrustedProxies("10.0.0.0/8"))
//	if err != nil {
//		return err // an invalid trusted proxy
//	}
//	handler := audit(mux)  // or r.Use(audit) with chi and the like
//
// The only error is an invalid trusted proxy ([ErrInvalidTrustedProxy];
// all invalid entries are listed, joined); the middleware itself never
// fails a request.
//
// For every request, the middleware calls [ContextWithClient] with:
//
//   - IP: the client address, in canonical text form ("203.0.113.7",
//     "2001:db8::1"), determined as below;
//   - UserAgent: the User-Agent header, as is;
//   - SessionID: the result of the [WithSessionID] function, if any.
//
// The Auditor fills only the client fields an event leaves empty, so a call
// can still set its own.
//
// # Client address
//
// The address starts as the socket peer, r.RemoteAddr, with the port and
// any IPv6 zone removed and an IPv4-mapped IPv6 address (::ffff:192.0.2.1)
// turned into its IPv4 form. If RemoteAddr is not an address (a Unix socket,
// say), IP is left empty.
//
// Only when the peer is a trusted proxy ([WithTrustedProxies]) is the
// forwarding header read ([DefaultClientIPHeader] unless
// [WithClientIPHeader] says otherwise). All lines of the header are taken in
// order, as one list, and walked from right to left, that is from the hop
// nearest to the service outwards: addresses of trusted proxies are skipped
// and the first address outside the trusted prefixes is the client. If every
// address in the list is trusted, the leftmost one is the client (a request
// that started inside the trusted network). Entries may carry a port
// ("192.0.2.1:4711", "[2001:db8::1]:4711"); empty list elements are
// ignored.
//
// With the Forwarded header (RFC 7239), the for= parameter of each element
// is used; quoted strings and bracketed IPv6 addresses with ports are
// understood. Obfuscated identifiers ("_hidden") and "unknown" are not
// addresses. The header is split into elements from the right and each
// element is parsed on its own, so a malformed element that a client put
// at the start of the header stops the walk where it stands, after the
// elements the trusted proxies appended.
//
// If the walk meets an entry that is not an IP address (garbage, an
// obfuscated or "unknown" node, a Forwarded element without for=, a
// malformed header), it stops and the socket peer is recorded: nothing to
// the left of such an entry can be trusted. A missing header also gives the
// socket peer. Headers never make the middleware panic.
//
// A request from a peer that is not a trusted proxy is recorded with the
// peer's address whatever its headers say, so clients cannot spoof their
// address by sending forwarding headers.
//
// # Trace context
//
// If the request context carries no valid span context (no otelhttp handler
// or other instrumentation ran before), the middleware extracts one from the
// request headers with the global propagator, [otel.GetTextMapPropagator],
// looked up on every request, when the request comes from a trusted proxy:
// a client that talks to the service directly cannot choose the trace id of
// its own audit records. [WithTraceContextFromAnyPeer] extracts it from
// every peer, for services that trust their callers' trace context. With the W3C Trace Context propagator
// configured, audit records then carry the trace id of the caller and, as
// span id, the id of the caller's span. Chain the middleware after
// otelhttp's handler instead to have records carry the server span's ids.
//
// Wrapping a nil handler gives one that replies 404 Not Found.
func NewMiddleware(opts ...MiddlewareOption) (func(http.Handler) http.Handler, error) {
	c, err := newMiddlewareConfig(opts)
	if err != nil {
		return nil, err
	}
	return func(next http.Handler) http.Handler {
		if next == nil {
			next = http.NotFoundHandler()
		}
		return &middleware{next: next, cfg: c}
	}, nil
}

type middleware struct {
	next http.Handler
	cfg  middlewareConfig
}

func (m *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !trace.SpanContextFromContext(ctx).IsValid() && m.traceFromHeaders(r) {
		ctx = otel.GetTextMapPropagator().Extract(ctx, propagation.HeaderCarrier(r.Header))
	}
	c := otelaudit.Client{IP: m.clientIP(r), UserAgent: r.UserAgent()}
	if m.cfg.sessionID != nil {
		c.SessionID = m.cfg.sessionID(r)
	}
	m.next.ServeHTTP(w, r.WithContext(ContextWithClient(ctx, c)))
}

// traceFromHeaders reports whether r's trace headers may set its records'
// trace context: r comes from a trusted proxy, or WithTraceContextFromAnyPeer.
func (m *middleware) traceFromHeaders(r *http.Request) bool {
	if m.cfg.traceAny {
		return true
	}
	peer, ok := parseNode(r.RemoteAddr)
	return ok && m.isTrusted(peer)
}

// clientIP returns the client address of r as described in [NewMiddleware].
func (m *middleware) clientIP(r *http.Request) string {
	peer, ok := parseNode(r.RemoteAddr)
	if !ok {
		return ""
	}
	if !m.isTrusted(peer) {
		return peer.String()
	}
	values := r.Header[m.cfg.header]
	if len(values) == 0 {
		return peer.String()
	}
	var hops iter.Seq[string]
	if m.cfg.header == "Forwarded" {
		hops = forwardedHops(values)
	} else {
		hops = listHops(values)
	}
	var leftmost netip.Addr
	for hop := range hops {
		a, ok := parseNode(hop)
		if !ok {
			return peer.String()
		}
		if !m.isTrusted(a) {
			return a.String()
		}
		leftmost = a
	}
	if leftmost.IsValid() {
		return leftmost.String()
	}
	return peer.String()
}

func (m *middleware) isTrusted(a netip.Addr) bool {
	for _, p := range m.cfg.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseNode parses an address as found in RemoteAddr, X-Forwarded-For or a
// Forwarded for= value: "192.0.2.1", "192.0.2.1:80", "2001:db8::1",
// "[2001:db8::1]", "[2001:db8::1]:80", with an optional IPv6 zone and an
// optional RFC 7239 obfuscated port ("_p1"). The result has no zone and is
// unmapped.
func parseNode(s string) (netip.Addr, bool) {
	host := s
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		host = s[1:end]
		if rest := s[end+1:]; rest != "" && (rest[0] != ':' || !validPort(rest[1:])) {
			return netip.Addr{}, false
		}
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() {
			return netip.Addr{}, false
		}
		return a.WithZone("").Unmap(), true
	}
	if i := strings.IndexByte(s, ':'); i >= 0 && strings.IndexByte(s[i+1:], ':') < 0 {
		// One colon: an IPv4 address with a port.
		if !validPort(s[i+1:]) {
			return netip.Addr{}, false
		}
		host = s[:i]
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is4() {
			return netip.Addr{}, false
		}
		return a, true
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone("").Unmap(), true
}

// validPort reports whether s is a decimal port or an RFC 7239 obfuscated
// port ("_" followed by letters, digits, ".", "_" or "-").
func validPort(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == '_' {
		if len(s) == 1 {
			return false
		}
		for i := 1; i < len(s); i++ {
			if c := s[i]; !isAlnum(c) && c != '.' && c != '_' && c != '-' {
				return false
			}
		}
		return true
	}
	if len(s) > 5 {
		return false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n <= 65535
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// listHops yields the elements of a comma-separated header, all lines taken
// as one list, from the last element to the first, trimmed of optional
// whitespace. Empty elements are skipped. It allocates nothing.
func listHops(lines []string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := len(lines) - 1; i >= 0; i-- {
			line := lines[i]
			for line != "" {
				elem := line
				if j := strings.LastIndexByte(line, ','); j >= 0 {
					elem, line = line[j+1:], line[:j]
				} else {
					line = ""
				}
				elem = trimOWS(elem)
				if elem == "" {
					continue
				}
				if !yield(elem) {
					return
				}
			}
		}
	}
}

// forwardedHops yields the for= value of each element of the Forwarded
// header lines (RFC 7239), from the last element to the first. Each element
// is parsed on its own, so a malformed element (which a client can put at
// the start of the header) stops the walk only where it stands: the
// elements appended to its right by trusted proxies are still read. An
// element without a usable for= value (none, twice, or malformed) yields ""
// so that the walk stops there. Empty elements are skipped.
func forwardedHops(lines []string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := len(lines) - 1; i >= 0; i-- {
			for elem := range elementsFromRight(lines[i]) {
				forValue, empty, ok := parseElement(elem)
				if !ok {
					yield("")
					return
				}
				if !empty && !yield(forValue) {
					return
				}
			}
		}
	}
}

// elementsFromRight yields the comma-separated elements of a Forwarded
// header line from the last to the first. Commas inside quoted strings do
// not separate elements. The line is scanned from the right, so the
// elements that trusted proxies appended are delimited correctly whatever
// a client put to their left (an unterminated quote included: it ends up
// in the leftmost element, which then fails to parse).
func elementsFromRight(line string) iter.Seq[string] {
	return func(yield func(string) bool) {
		end := len(line)
		quoted := false
		for i := len(line) - 1; i >= 0; i-- {
			switch line[i] {
			case '"':
				if quoted && escapedAt(line, i) {
					continue
				}
				quoted = !quoted
			case ',':
				if !quoted {
					if !yield(line[i+1 : end]) {
						return
					}
					end = i
				}
			}
		}
		yield(line[:end])
	}
}

// escapedAt reports whether s[i] is preceded by an odd number of
// backslashes, that is, whether it is the second byte of a quoted-pair.
func escapedAt(s string, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && s[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}

// parseElement parses one element of a Forwarded header (pairs separated
// by ';', no top-level ',': [elementsFromRight] splits them) into its for=
// value, "" when it has no for= or more than one. It reports empty for an
// element without pairs, and false when the element does not follow the
// RFC 7239 grammar.
func parseElement(elem string) (forValue string, empty, ok bool) {
	nFor, nPairs := 0, 0
	i := 0
	for {
		i = skipOWS(elem, i)
		if i < len(elem) && elem[i] != ';' {
			name, value, next, ok := parsePair(elem, i)
			if !ok {
				return "", false, false
			}
			nPairs++
			if strings.EqualFold(name, "for") {
				nFor++
				forValue = value
			}
			i = skipOWS(elem, next)
		}
		if i == len(elem) {
			break
		}
		if elem[i] != ';' {
			return "", false, false
		}
		i++
	}
	if nFor != 1 {
		forValue = ""
	}
	return forValue, nPairs == 0, true
}

// parsePair parses the name=value pair starting at s[i] and returns the
// index after it.
func parsePair(s string, i int) (name, value string, next int, ok bool) {
	start := i
	for i < len(s) && isTokenChar(s[i]) {
		i++
	}
	name = s[start:i]
	if name == "" || i == len(s) || s[i] != '=' {
		return "", "", 0, false
	}
	i++
	if i < len(s) && s[i] == '"' {
		return parseQuoted(s, i, name)
	}
	start = i
	// Lenient: accept the characters of an unquoted IPv6 node
	// ("[2001:db8::1]:80") as well as token characters.
	for i < len(s) && (isTokenChar(s[i]) || s[i] == '[' || s[i] == ']' || s[i] == ':') {
		i++
	}
	return name, s[start:i], i, true
}

// parseQuoted parses the quoted-string starting at s[i] == '"' and returns
// its unescaped content and the index after the closing quote.
func parseQuoted(s string, i int, name string) (string, string, int, bool) {
	i++ // the opening quote
	start := i
	var b []byte // nil until an escape is met
	for ; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 == len(s) {
				return "", "", 0, false
			}
			b = append(b, s[start:i]...)
			i++
			b = append(b, s[i])
			start = i + 1
		case '"':
			if b == nil {
				return name, s[start:i], i + 1, true
			}
			b = append(b, s[start:i]...)
			return name, string(b), i + 1, true
		}
	}
	return "", "", 0, false
}

func isTokenChar(c byte) bool {
	if isAlnum(c) {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func skipOWS(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

func trimOWS(s string) string { return strings.Trim(s, " \t") }
