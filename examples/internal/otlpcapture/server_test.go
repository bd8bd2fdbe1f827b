package otlpcapture

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/proto"
)

func str(s string) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
}

func post(t *testing.T, s *Server, path, ctype, enc string, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.Endpoint()+path, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", ctype)
	if enc != "" {
		req.Header.Set("Content-Encoding", enc)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func TestProtobufGzip(t *testing.T) {
	s := NewServer(t)
	traceID, _ := hex.DecodeString("4bf92f3577b34da6a3ce929d0e0e4736")
	msg := &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "service.name", Value: str("svc")}}},
		ScopeLogs: []*logspb.ScopeLogs{{
			Scope: &commonpb.InstrumentationScope{Name: "scope"},
			LogRecords: []*logspb.LogRecord{{
				EventName:    "audit.login",
				TimeUnixNano: 1_700_000_000_123_456_789,
				TraceId:      traceID,
				Attributes: []*commonpb.KeyValue{
					{Key: "user.id", Value: str("u-1")},
					{Key: "audit.details", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{
						Values: []*commonpb.KeyValue{
							{Key: "n", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 5}}},
							{Key: "l", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{
								Values: []*commonpb.AnyValue{str("a"), {Value: &commonpb.AnyValue_BoolValue{BoolValue: true}}},
							}}}},
						},
					}}}},
				},
			}},
		}},
	}}}
	raw, err := proto.Marshal(msg)
	require.NoError(t, err)
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	_, _ = zw.Write(raw)
	require.NoError(t, zw.Close())
	assert.Equal(t, 200, post(t, s, LogsPath, "application/x-protobuf", "gzip", z.Bytes()))

	recs := s.WaitRecords(1, time.Second)
	require.Len(t, recs, 1)
	assert.Equal(t, "svc", recs[0].ServiceName())
	assert.Equal(t, "scope", recs[0].Scope.GetName())
	assert.Equal(t, time.Unix(0, 1_700_000_000_123_456_789).UTC(), recs[0].Timestamp())
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", recs[0].TraceID().String())
	rows, err := Rows(recs)
	require.NoError(t, err)
	assert.Equal(t, "login", rows[0].Action)
	assert.Equal(t, "u-1", rows[0].UserID)
	assert.JSONEq(t, `{"n":5,"l":["a",true]}`, string(rows[0].Details))
	assert.Equal(t, []Request{{ContentType: "application/x-protobuf", ContentEncoding: "gzip", UserAgent: "Go-http-client/1.1", Records: 1}}, s.Requests())
	assert.Empty(t, s.Errors())
}

// The OTLP JSON encoding: hex trace and span ids, 64-bit integers as
// strings, enums as numbers.
func TestJSONHexIDs(t *testing.T) {
	s := NewServer(t)
	body := `{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"node"}}]},
	"scopeLogs":[{"scope":{"name":"js"},"logRecords":[{"timeUnixNano":"1700000000123000000","observedTimeUnixNano":1700000000124000000,
	"severityNumber":13,"eventName":"audit.settings_changed","traceId":"5bf92f3577b34da6a3ce929d0e0e4736","spanId":"0000000000002001",
	"body":{},"attributes":[{"key":"audit.new","value":{"kvlistValue":{"values":[{"key":"bytes","value":{"intValue":80}},{"key":"f","value":{"doubleValue":1.5}}]}}},
	{"key":"log.record.uid","value":{"stringValue":"0190a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6b"}}]}]}]}]}`
	assert.Equal(t, 200, post(t, s, LogsPath, "application/json", "", []byte(body)))
	recs := s.Records()
	require.Len(t, recs, 1)
	r := recs[0]
	assert.Equal(t, "5bf92f3577b34da6a3ce929d0e0e4736", r.TraceID().String())
	assert.Equal(t, "0000000000002001", r.SpanID().String())
	assert.Equal(t, logspb.SeverityNumber_SEVERITY_NUMBER_WARN, r.Log.GetSeverityNumber())
	assert.Equal(t, attribute.EMPTY, r.Body().Type(), "an empty AnyValue is no body")
	assert.Equal(t, time.Unix(0, 1700000000124000000).UTC(), r.ObservedTimestamp())
	rows, err := Rows(recs)
	require.NoError(t, err)
	assert.Equal(t, "settings_changed", rows[0].Action)
	assert.Equal(t, "0190a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6b", rows[0].EventID.String())
	assert.JSONEq(t, `{"bytes":80,"f":1.5}`, string(rows[0].New))
}

func TestBadRequestsAreErrors(t *testing.T) {
	s := NewServer(t)
	assert.Equal(t, 400, post(t, s, LogsPath, "application/x-protobuf", "", []byte{0xff, 0xff, 0xff}))
	assert.Equal(t, 400, post(t, s, LogsPath, "application/json", "", []byte(`{"resourceLogs":`)))
	assert.Equal(t, 400, post(t, s, LogsPath, "application/json", "", []byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"xyz"}]}]}]}`)))
	assert.Equal(t, 400, post(t, s, LogsPath, "text/plain", "", []byte("hello")))
	assert.Equal(t, 400, post(t, s, "/v1/traces", "application/x-protobuf", "", nil))
	assert.Equal(t, 400, post(t, s, LogsPath, "application/x-protobuf", "br", nil))
	assert.Len(t, s.Errors(), 6)
	assert.Empty(t, s.Records())
	assert.Empty(t, s.Requests())
	_, err := Rows(nil)
	assert.ErrorIs(t, err, ErrNoRecords)
}

func TestRowsRefusesNonAudit(t *testing.T) {
	_, err := Rows([]Record{{Log: &logspb.LogRecord{EventName: "http.request"}}})
	assert.ErrorContains(t, err, "record 0")
}
