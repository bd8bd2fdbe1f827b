package chschema

import (
	"bytes"
	"embed"
	"encoding/hex"
	"fmt"
	"net/netip"
	"text/template"
)

//go:embed reader/reader_grants.sql reader/reader_users.xml
var readerFS embed.FS

var readerTemplates = template.Must(template.New("").Option("missingkey=error").ParseFS(readerFS, "reader/*"))

// DefaultReaderRole names the role of [ReaderGrants] and the settings
// profile of [ReaderUsersXML] when none is given.
const DefaultReaderRole = "otelaudit_reader"

// ReaderGrants returns the SQL that creates the reader role on a server
// with SQL access control (22.x and later) and grants it SELECT on the
// audit table and the daily rollup of opts (on a cluster, the Distributed
// and the local tables, ON CLUSTER), and nothing else: no INSERT, ALTER,
// DROP, TRUNCATE or OPTIMIZE. role is the role's name, an identifier; ""
// means [DefaultReaderRole]. Covered by golden files only: no modern
// server runs in this repository's tests.
func ReaderGrants(opts Options, role string) ([]string, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if role == "" {
		role = DefaultReaderRole
	}
	if !identRE.MatchString(role) {
		return nil, fmt.Errorf("%w: reader role %q is not an identifier", ErrInvalidOptions, role)
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
	if err := readerTemplates.ExecuteTemplate(&b, "reader_grants.sql", data); err != nil {
		return nil, fmt.Errorf("chschema: render reader grants: %w", err)
	}
	return splitStatements(b.String()), nil
}

// ReaderUser is a user that reads the audit database, on a server whose
// users are configured in users.xml (18.16); see [ReaderUsersXML].
type ReaderUser struct {
	// Name is the user's name: letters, digits and underscores.
	Name string
	// PasswordSHA256 is the hex SHA-256 of the user's password. Empty
	// means no password: for tests on loopback only.
	PasswordSHA256 string
	// Networks the user may connect from: addresses or prefixes. Default:
	// loopback (127.0.0.1 and ::1).
	Networks []string
	// Profile names the user's settings profile; "" means
	// [DefaultReaderRole].
	Profile string
}

// ReaderUsersXML returns the users.d file that defines a reader of the
// audit database of opts: a user that may use that database only, with a
// profile of readonly = 1 (SELECT only; no INSERT, ALTER, DROP, CREATE or
// SET). On 18.16 readonly holds even when a client sends readonly = 0
// along with a query (unlike allow_ddl): tested live.
func ReaderUsersXML(opts Options, u ReaderUser) ([]byte, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if u.Profile == "" {
		u.Profile = DefaultReaderRole
	}
	for _, f := range []struct{ what, v string }{{"reader user", u.Name}, {"profile", u.Profile}} {
		if !identRE.MatchString(f.v) {
			return nil, fmt.Errorf("%w: %s %q is not an identifier", ErrInvalidOptions, f.what, f.v)
		}
	}
	if p := u.PasswordSHA256; p != "" {
		if b, err := hex.DecodeString(p); err != nil || len(b) != 32 {
			return nil, fmt.Errorf("%w: the reader's password SHA-256 is not 64 hex digits", ErrInvalidOptions)
		}
	}
	if len(u.Networks) == 0 {
		u.Networks = []string{"127.0.0.1", "::1"}
	}
	for _, n := range u.Networks {
		_, perr := netip.ParsePrefix(n)
		if _, aerr := netip.ParseAddr(n); perr != nil && aerr != nil {
			return nil, fmt.Errorf("%w: reader network %q is neither an address nor a prefix", ErrInvalidOptions, n)
		}
	}
	var b bytes.Buffer
	data := struct {
		User              ReaderUser
		Profile, Database string
	}{User: u, Profile: u.Profile, Database: o.Database}
	if err := readerTemplates.ExecuteTemplate(&b, "reader_users.xml", data); err != nil {
		return nil, fmt.Errorf("chschema: render reader users: %w", err)
	}
	return b.Bytes(), nil
}
