package main

import (
	"bytes"
	"encoding/json"
	"strings"
)

// defaultEraseKeys are the members whose values erasure blanks in the JSON
// values of a row that names the user as its target; the same list as the
// default of the Postgres function <table>_erase_user (schema/pgschema,
// migration 0007).
var defaultEraseKeys = []string{"email", "name", "user_name", "full_name", "display_name", "first_name", "last_name",
	"phone", "ip", "ip_address", "client_ip", "user_agent", "session_id", "address"}

// erasedValue replaces a personal value other than the user id.
const erasedValue = "[erased]"

// eraseRule is the JSON part of the erasure rule (the package
// documentation of schema/pgschema, "Erasure"), for ClickHouse, which
// stores the JSON values as text: the Postgres function applies the same
// rule to jsonb. Both must agree, or a row erased before it was sealed
// would differ between the stores.
type eraseRule struct {
	subject, pseudonym string
	others             map[string]bool // the user's other identifiers
	keys               map[string]bool // members blanked in a target's row
}

func newEraseRule(subject, pseudonym string, others, keys []string) eraseRule {
	r := eraseRule{subject: subject, pseudonym: pseudonym, others: map[string]bool{}, keys: map[string]bool{}}
	for _, o := range others {
		if o != "" && o != subject {
			r.others[o] = true
		}
	}
	for _, k := range keys {
		r.keys[k] = true
	}
	return r
}

// apply returns the JSON text js with the rule applied, and whether it
// changed. target says whether the row names the user as its target
// (then keys apply). Text that is not JSON is left as it is.
func (r eraseRule) apply(js string, target bool) (string, bool) {
	if strings.TrimSpace(js) == "" {
		return js, false
	}
	dec := json.NewDecoder(strings.NewReader(js))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return js, false
	}
	out, changed := r.walk(v, target)
	if !changed {
		return js, false
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return js, false
	}
	return strings.TrimSuffix(b.String(), "\n"), true
}

func (r eraseRule) walk(v any, target bool) (any, bool) {
	switch x := v.(type) {
	case string:
		switch {
		case x == r.subject:
			return r.pseudonym, true
		case r.others[x]:
			return erasedValue, true
		}
		return x, false
	case []any:
		changed := false
		for i, e := range x {
			var c bool
			x[i], c = r.walk(e, target)
			changed = changed || c
		}
		return x, changed
	case map[string]any:
		changed := false
		for k, e := range x {
			if target && r.keys[k] && e != nil {
				x[k] = erasedValue
				changed = true
				continue
			}
			var c bool
			x[k], c = r.walk(e, target)
			changed = changed || c
		}
		return x, changed
	}
	return v, false
}
