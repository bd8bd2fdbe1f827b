// Package otlpcapture is an OTLP/HTTP logs endpoint for the tests of the
// example services. A [Server] accepts what an OpenTelemetry SDK's OTLP/HTTP
// log exporter sends (POST /v1/logs, protobuf or JSON, plain or gzip),
// decodes it with the OTLP protobuf definitions and keeps every log record.
// A captured [Record] is an auditrow.Source, so a test can map it through the
// exporters' one mapping ([Rows]) and check the rows a store would write.
//
// The decoding is independent of the SDKs that send: the Go SDK sends
// protobuf, the JavaScript SDK's @opentelemetry/exporter-logs-otlp-http sends
// the OTLP JSON encoding, whose trace and span ids are hex strings (not
// base64 as in the canonical protobuf JSON mapping).
package otlpcapture

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// LogsPath is the path an OTLP/HTTP log exporter posts to.
const LogsPath = "/v1/logs"

// maxBody bounds a request body, compressed or not.
const maxBody = 64 << 20

// Server is a running capture endpoint. It is safe for concurrent use.
type Server struct {
	srv *httptest.Server

	mu       sync.Mutex
	records  []Record
	requests []Request
	errs     []error
	changed  chan struct{} // closed and replaced on every request
}

// Request describes one export request the server received.
type Request struct {
	ContentType     string
	ContentEncoding string
	UserAgent       string
	Records         int
}

// NewServer starts a capture server on a loopback port; it is closed when
// the test ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{changed: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// Endpoint returns the base URL to give an exporter in
// OTEL_EXPORTER_OTLP_ENDPOINT ("http://127.0.0.1:port"); the exporter adds
// [LogsPath].
func (s *Server) Endpoint() string { return s.srv.URL }

// Records returns a copy of the records captured so far, in arrival order.
func (s *Server) Records() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Record(nil), s.records...)
}

// Requests returns the export requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Errors returns the requests the server could not decode, as errors.
func (s *Server) Errors() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.errs...)
}

// WaitRecords waits until at least n records were captured or timeout
// passed, and returns the records captured by then.
func (s *Server) WaitRecords(n int, timeout time.Duration) []Record {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		got, changed := len(s.records), s.changed
		s.mu.Unlock()
		if got >= n {
			return s.Records()
		}
		select {
		case <-changed:
		case <-deadline.C:
			return s.Records()
		}
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	req, recs, err := decodeRequest(r)
	s.mu.Lock()
	if err != nil {
		s.errs = append(s.errs, err)
	} else {
		s.requests = append(s.requests, req)
		s.records = append(s.records, recs...)
	}
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	// An empty ExportLogsServiceResponse, in the request's encoding.
	if req.ContentType == "application/json" {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("{}"))
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
}

// decodeRequest decodes one OTLP/HTTP export request.
func decodeRequest(r *http.Request) (Request, []Record, error) {
	req := Request{
		ContentEncoding: r.Header.Get("Content-Encoding"),
		UserAgent:       r.Header.Get("User-Agent"),
	}
	if r.Method != http.MethodPost || r.URL.Path != LogsPath {
		return req, nil, fmt.Errorf("otlpcapture: %s %s: only POST %s is served", r.Method, r.URL.Path, LogsPath)
	}
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return req, nil, fmt.Errorf("otlpcapture: content type %q: %w", r.Header.Get("Content-Type"), err)
	}
	req.ContentType = ct
	var body io.Reader = io.LimitReader(r.Body, maxBody)
	switch req.ContentEncoding {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return req, nil, fmt.Errorf("otlpcapture: gzip body: %w", err)
		}
		defer zr.Close()
		body = io.LimitReader(zr, maxBody)
	default:
		return req, nil, fmt.Errorf("otlpcapture: content encoding %q not supported", req.ContentEncoding)
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		return req, nil, fmt.Errorf("otlpcapture: read body: %w", err)
	}
	var msg collogspb.ExportLogsServiceRequest
	switch ct {
	case "application/x-protobuf":
		err = proto.Unmarshal(raw, &msg)
	case "application/json":
		err = unmarshalJSON(raw, &msg)
	default:
		err = fmt.Errorf("content type %q is not OTLP (application/x-protobuf or application/json)", ct)
	}
	if err != nil {
		return req, nil, fmt.Errorf("otlpcapture: decode %s body of %d bytes: %w", ct, len(raw), err)
	}
	recs := flatten(&msg)
	req.Records = len(recs)
	return req, recs, nil
}

// unmarshalJSON decodes the OTLP JSON encoding. It differs from the
// canonical protobuf JSON mapping in one point: traceId and spanId are hex
// strings. They are turned into base64 before protojson reads them.
func unmarshalJSON(raw []byte, msg *collogspb.ExportLogsServiceRequest) error {
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return err
	}
	for _, rl := range list(doc, "resourceLogs", "resource_logs") {
		for _, sl := range list(rl, "scopeLogs", "scope_logs") {
			for _, lr := range list(sl, "logRecords", "log_records") {
				m, ok := lr.(map[string]any)
				if !ok {
					continue
				}
				for _, k := range []string{"traceId", "trace_id", "spanId", "span_id"} {
					v, ok := m[k].(string)
					if !ok || v == "" {
						continue
					}
					b, err := hex.DecodeString(v)
					if err != nil {
						return fmt.Errorf("%s %q is not hex: %w", k, v, err)
					}
					m[k] = base64.StdEncoding.EncodeToString(b)
				}
			}
		}
	}
	fixed, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return protojson.Unmarshal(fixed, msg)
}

// list returns the array under the first of keys present in m (an
// object); nil otherwise.
func list(m any, keys ...string) []any {
	obj, ok := m.(map[string]any)
	if !ok {
		return nil
	}
	for _, k := range keys {
		if l, ok := obj[k].([]any); ok {
			return l
		}
	}
	return nil
}

// ErrNoRecords is returned by [Rows] for an empty input.
var ErrNoRecords = errors.New("otlpcapture: no records")
