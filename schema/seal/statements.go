package seal

import (
	"bytes"
	"fmt"
	"text/template"
)

// statements are the rendered queries of sql/queries.sql for one config.
type statements struct {
	rows, lateRows, nextTime                string
	digests, lastDigest, insertDigest       string
	leaves, leafOfEvent, leafHashes, dbTime string
	leavesTable                             []string // schema, table: for COPY
}

func newStatements(c config) (*statements, error) {
	text, err := sqlFiles.ReadFile("sql/queries.sql")
	if err != nil {
		return nil, err
	}
	t, err := template.New("queries").Option("missingkey=error").Parse(string(text))
	if err != nil {
		return nil, fmt.Errorf("seal: parse sql/queries.sql: %w", err)
	}
	n := newNames(c)
	s := &statements{leavesTable: []string{c.schema, c.digestTable + "_leaves"}}
	for _, q := range []struct {
		name string
		dst  *string
	}{
		{"rows", &s.rows}, {"late_rows", &s.lateRows}, {"next_time", &s.nextTime},
		{"digests", &s.digests}, {"last_digest", &s.lastDigest}, {"insert_digest", &s.insertDigest},
		{"leaves", &s.leaves}, {"leaf_of_event", &s.leafOfEvent}, {"leaf_hashes", &s.leafHashes},
		{"now", &s.dbTime},
	} {
		var b bytes.Buffer
		if err := t.ExecuteTemplate(&b, q.name, n); err != nil {
			return nil, fmt.Errorf("seal: render %s: %w", q.name, err)
		}
		*q.dst = b.String()
	}
	return s, nil
}
