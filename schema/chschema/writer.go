package chschema

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net/netip"
	"text/template"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

//go:embed writer/grants.sql writer/ingest.sql writer/ingest_config.xml writer/ingest_users.xml
var writerFS embed.FS

var writerTemplates = template.Must(template.New("").Option("missingkey=error").ParseFS(writerFS, "writer/*"))

// DefaultWriterRole names the role of [WriterGrants] and the settings
// profile of [IngestUsersXML] when none is given.
const DefaultWriterRole = "otelaudit_writer"

// WriterGrants returns the SQL that creates the writer role on a server
// with SQL access control (22.x and later) and grants it what an exporter
// needs and nothing more, for the tables of opts (on a cluster, the
// Distributed and the local tables, ON CLUSTER): INSERT on the audit table
// and on the daily rollup (its materialized view writes there with the
// inserting user's rights), and SELECT on the columns event_id, time,
// workspace_id, action and outcome of the audit table (the exporter's
// lookup after an ambiguous failure, and the view's query), none of them
// personal. It grants no ALTER (so no ALTER ... DELETE or UPDATE), DROP,
// TRUNCATE, OPTIMIZE, or SELECT of the other columns. Run it as an
// administrator, then grant the role to each service's user:
//
//	GRANT otelaudit_writer TO billing_service;
//	SET DEFAULT ROLE otelaudit_writer TO billing_service;
//
// role is the role's name, an identifier; "" means [DefaultWriterRole].
// The statements are covered by golden files only: the modern engine of
// the tests (chDB, ClickHouse 26.5 embedded) has no writable access
// storage, so roles cannot be created and replayed there.
func WriterGrants(opts Options, role string) ([]string, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if role == "" {
		role = DefaultWriterRole
	}
	if !identRE.MatchString(role) {
		return nil, fmt.Errorf("%w: writer role %q is not an identifier", ErrInvalidOptions, role)
	}
	type tables struct{ Audit, Rollup string }
	d := newTmplData(LayoutModern, o)
	data := struct {
		Role, OnCluster string
		Tables          []tables
	}{Role: "`" + role + "`", OnCluster: d.OnCluster}
	if o.Cluster != "" {
		data.Tables = append(data.Tables, tables{d.Distributed, d.RollupDistributed})
	}
	data.Tables = append(data.Tables, tables{d.Table, d.Rollup})
	var b bytes.Buffer
	if err := writerTemplates.ExecuteTemplate(&b, "grants.sql", data); err != nil {
		return nil, fmt.Errorf("chschema: render writer grants: %w", err)
	}
	return splitStatements(b.String()), nil
}

// WriterUser is the user a service's exporter logs in as, on a server whose
// users are configured in users.xml; see [Ingest].
type WriterUser struct {
	// Name is the user's name: letters, digits and underscores.
	Name string
	// PasswordSHA256 is the hex SHA-256 of the user's password
	// (printf '%s' "$PASSWORD" | sha256sum). Empty means no password:
	// for tests on loopback only.
	PasswordSHA256 string
	// Networks the user may connect from: addresses or prefixes
	// ("10.0.0.0/8"). Default: loopback (127.0.0.1 and ::1).
	Networks []string
}

// Ingest is the route by which services insert into the audit table on a
// server whose users are configured in users.xml, as ClickHouse 18.16's
// are, where no setting can make an insert-only user: 18.16 checks
// allow_ddl (and readonly) only in SET statements, and a client that sends
// allow_ddl = 1 with a query (clickhouse-go's WithSettings does) runs ALTER
// TABLE ... DELETE. What 18.16 does enforce is the database a user may use
// (allow_databases). So the service's user may use a database of its own,
// Database, whose table is a Distributed table over the audit table; the
// Distributed table's connection logs in as ForwardUser, the only user
// besides the administrators that may use the audit database, whose
// password is in the server's configuration only. The service inserts
// (and, through the same table, looks up stored event ids, and can read
// the audit table); it cannot change or remove a row: the audit table is
// out of its reach, and the Distributed table supports no mutation,
// OPTIMIZE or partition operation. It can drop or alter the Distributed
// table itself (with the bypass above), which stops its own inserts and
// nothing else.
//
// Set it up as an administrator: [MigrateIngest] after Migrate, the file of
// [IngestConfigXML] in config.d/, the file of [IngestUsersXML] in users.d/,
// and a listen_host for Host; then point the exporter at Database
// (clickhouselog.WithSchema(chschema.Options{Database: in.Database})).
type Ingest struct {
	// Database holds the Distributed table (named like the audit table),
	// and is the only database the service's user may use. Default: the
	// audit database's name + "_ingest".
	Database string
	// Cluster names the forwarding cluster in remote_servers. Default:
	// "otelaudit_ingest".
	Cluster string
	// Host and Port are where the Distributed table connects to this
	// server: an address it listens on that is not one of its interface
	// addresses (a second loopback address such as 127.0.0.2 does), and its
	// native port. Required. An insert into a cluster whose shard the
	// server takes for itself runs with the inserting user's rights.
	Host string
	Port int
	// ForwardUser is the user of the cluster's connection. Default:
	// "otelaudit_forward".
	ForwardUser string
	// ForwardPassword is its password, in clear: remote_servers needs it
	// so. Required.
	ForwardPassword string
	// Service is the service's user.
	Service WriterUser
	// Profile names the settings profile of both users; "" means
	// [DefaultWriterRole].
	Profile string
}

func (in Ingest) withDefaults(o Options) (Ingest, error) {
	if in.Database == "" {
		in.Database = o.Database + "_ingest"
	}
	if in.Cluster == "" {
		in.Cluster = "otelaudit_ingest"
	}
	if in.ForwardUser == "" {
		in.ForwardUser = "otelaudit_forward"
	}
	if in.Profile == "" {
		in.Profile = DefaultWriterRole
	}
	for _, f := range []struct{ what, v string }{
		{"ingest database", in.Database}, {"cluster", in.Cluster}, {"forwarding user", in.ForwardUser},
		{"service user", in.Service.Name}, {"profile", in.Profile},
	} {
		if !identRE.MatchString(f.v) {
			return in, fmt.Errorf("%w: %s %q is not an identifier", ErrInvalidOptions, f.what, f.v)
		}
	}
	if in.Database == o.Database {
		return in, fmt.Errorf("%w: the ingest database must not be the audit database %q", ErrInvalidOptions, o.Database)
	}
	if _, err := netip.ParseAddr(in.Host); err != nil {
		return in, fmt.Errorf("%w: ingest host %q is not an IP address", ErrInvalidOptions, in.Host)
	}
	if in.Port <= 0 || in.Port > 65535 {
		return in, fmt.Errorf("%w: ingest port %d", ErrInvalidOptions, in.Port)
	}
	if in.ForwardPassword == "" {
		return in, fmt.Errorf("%w: the forwarding user needs a password", ErrInvalidOptions)
	}
	if p := in.Service.PasswordSHA256; p != "" {
		if b, err := hex.DecodeString(p); err != nil || len(b) != 32 {
			return in, fmt.Errorf("%w: the service user's password SHA-256 is not 64 hex digits", ErrInvalidOptions)
		}
	}
	if len(in.Service.Networks) == 0 {
		in.Service.Networks = []string{"127.0.0.1", "::1"}
	}
	for _, n := range in.Service.Networks {
		_, perr := netip.ParsePrefix(n)
		if _, aerr := netip.ParseAddr(n); perr != nil && aerr != nil {
			return in, fmt.Errorf("%w: service network %q is neither an address nor a prefix", ErrInvalidOptions, n)
		}
	}
	return in, nil
}

// ingestData is what the ingest templates see. Names are validated
// identifiers; the password is escaped for XML.
type ingestData struct {
	Ingest
	Audit, AuditTable, Table, AuditQuoted string
	ForwardPasswordSHA256                 string
	ServicePasswordSHA256                 string
	ServiceNetworks, ForwardNetworks      []string
}

func ingestTemplate(opts Options, in Ingest, name string) ([]byte, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if o.Cluster != "" {
		return nil, fmt.Errorf("%w: the ingest route is for a single server, not a cluster", ErrInvalidOptions)
	}
	if in, err = in.withDefaults(o); err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(in.ForwardPassword))
	var pw bytes.Buffer
	if err := xml.EscapeText(&pw, []byte(in.ForwardPassword)); err != nil {
		return nil, err
	}
	in.ForwardPassword = pw.String()
	d := ingestData{
		Ingest: in, Audit: o.Database, AuditTable: o.Table,
		Table: quote(in.Database, o.Table), AuditQuoted: quote(o.Database, o.Table),
		ForwardPasswordSHA256: hex.EncodeToString(sum[:]), ServicePasswordSHA256: in.Service.PasswordSHA256,
		ServiceNetworks: in.Service.Networks,
		ForwardNetworks: []string{"127.0.0.0/8", "::1"},
	}
	if a, _ := netip.ParseAddr(in.Host); !a.IsLoopback() {
		d.ForwardNetworks = append(d.ForwardNetworks, in.Host)
	}
	var b bytes.Buffer
	if err := writerTemplates.ExecuteTemplate(&b, name, d); err != nil {
		return nil, fmt.Errorf("chschema: render %s: %w", name, err)
	}
	return b.Bytes(), nil
}

// MigrateIngest creates, unless they exist, the ingest database of in and
// its Distributed table over the audit table of opts (without the
// ingest_version column, which the audit table computes); see [Ingest]. Run
// it as an administrator, after [Migrate]. It never closes conn.
func MigrateIngest(ctx context.Context, conn driver.Conn, opts Options, in Ingest) error {
	var stmts [4]string
	for i, name := range []string{"ingest_database", "ingest_table", "ingest_has_version", "ingest_drop_version"} {
		b, err := ingestTemplate(opts, in, name)
		if err != nil {
			return err
		}
		stmts[i] = string(b)
	}
	for _, s := range stmts[:2] {
		if err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("chschema: ingest route: %w", err)
		}
	}
	var n uint64
	if err := conn.QueryRow(ctx, stmts[2]).Scan(&n); err != nil {
		return fmt.Errorf("chschema: ingest route: %w", err)
	}
	if n > 0 {
		if err := conn.Exec(ctx, stmts[3]); err != nil {
			return fmt.Errorf("chschema: ingest route: %w", err)
		}
	}
	return nil
}

// IngestConfigXML returns the config.d file that defines the forwarding
// cluster of in; see [Ingest].
func IngestConfigXML(opts Options, in Ingest) ([]byte, error) {
	return ingestTemplate(opts, in, "ingest_config.xml")
}

// IngestUsersXML returns the users.d file that defines the service's user,
// the forwarding user and their settings profile; see [Ingest].
func IngestUsersXML(opts Options, in Ingest) ([]byte, error) {
	return ingestTemplate(opts, in, "ingest_users.xml")
}
