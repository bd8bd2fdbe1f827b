package main

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
)

// user is an account of the portal.
type user struct {
	ID, Name, Workspace, Password string
	Admin                         bool
}

// actor is who the user is to the audit trail.
func (u user) actor() otelaudit.Actor {
	return otelaudit.Actor{UserID: u.ID, WorkspaceID: u.Workspace, Name: u.Name}
}

// workspaces are the tenants of the portal, each with its users; the first
// user of each is its admin.
var workspaces = []struct {
	ID    string
	Users []string
}{
	{"ws-acme", []string{"ada", "grace", "alan", "edsger", "barbara"}},
	{"ws-globex", []string{"ken", "dennis", "brian", "rob"}},
	{"ws-initech", []string{"margaret", "katherine", "dorothy", "mary"}},
	{"ws-umbrella", []string{"linus", "guido", "bjarne"}},
}

// directory returns every account, by user id. A user's password is
// "pw-" followed by the id: this is a demo.
func directory() map[string]user {
	users := map[string]user{}
	for _, ws := range workspaces {
		for i, name := range ws.Users {
			id := "u-" + name
			users[id] = user{ID: id, Name: name, Workspace: ws.ID, Password: "pw-" + id, Admin: i == 0}
		}
	}
	return users
}

// Limits of the portal's inputs.
const (
	maxSettingLen = 64
	sessionCookie = "session"
)

// exportFormats are the formats a data export can be asked in.
var exportFormats = []string{"csv", "json"}

// adminOps are the admin actions on a user account.
var adminOps = []string{"reset_mfa", "suspend", "unsuspend", "revoke_sessions"}

// portal is the web application: accounts, sessions and settings in memory.
// Every request to a route other than /healthz records exactly one audit
// event, except requests without a session to the routes that need one,
// which are refused unrecorded (no one to attribute them to).
type portal struct {
	audit *bridge.Auditor
	users map[string]user

	mu       sync.Mutex
	sessions map[string]string            // session id -> user id
	settings map[string]map[string]string // user id -> setting -> value

	exports atomic.Uint64
}

func newPortal(audit *bridge.Auditor) *portal {
	return &portal{
		audit:    audit,
		users:    directory(),
		sessions: map[string]string{},
		settings: map[string]map[string]string{},
	}
}

func (p *portal) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("POST /login", p.login)
	mux.HandleFunc("POST /logout", p.withUser(p.logout))
	mux.HandleFunc("PUT /settings/{name}", p.withUser(p.changeSetting))
	mux.HandleFunc("POST /exports", p.withUser(p.requestExport))
	mux.HandleFunc("POST /admin/users/{id}/{op}", p.withUser(p.adminAction))
	return mux
}

// sessionID returns the session cookie of a request; the middleware records
// it with every event (bridge.WithSessionID).
func sessionID(r *http.Request) string {
	if c, err := r.Cookie(sessionCookie); err == nil {
		return c.Value
	}
	return ""
}

// withUser passes the session's user to h; requests without a valid session
// get 401.
func (p *portal) withUser(h func(http.ResponseWriter, *http.Request, user)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		id, ok := p.sessions[sessionID(r)]
		p.mu.Unlock()
		if !ok {
			http.Error(w, "not logged in", http.StatusUnauthorized)
			return
		}
		h(w, r, p.users[id])
	}
}

func (p *portal) login(w http.ResponseWriter, r *http.Request) {
	id, password := r.FormValue("user"), r.FormValue("password")
	u, known := p.users[id]
	switch {
	case !known:
		// The name that was tried is the only actor there is.
		p.audit.LoginFailed(r.Context(), otelaudit.Actor{UserID: id}, "unknown_user")
		http.Error(w, "invalid credentials", http.StatusUnauthorized)
		return
	case password != u.Password:
		p.audit.LoginFailed(r.Context(), u.actor(), "invalid_password")
		http.Error(w, "invalid credentials", http.StatusUnauthorized)
		return
	}
	sid := rand.Text()
	p.mu.Lock()
	p.sessions[sid] = u.ID
	p.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: sid, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	// The new session is not in the request context yet: record it here.
	p.audit.Record(r.Context(), otelaudit.Event{
		Action: otelaudit.ActionLogin,
		Actor:  u.actor(),
		Client: otelaudit.Client{SessionID: sid},
	})
	w.WriteHeader(http.StatusNoContent)
}

func (p *portal) logout(w http.ResponseWriter, r *http.Request, u user) {
	p.mu.Lock()
	delete(p.sessions, sessionID(r))
	p.mu.Unlock()
	p.audit.Logout(r.Context(), u.actor())
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/", MaxAge: -1})
	w.WriteHeader(http.StatusNoContent)
}

func (p *portal) changeSetting(w http.ResponseWriter, r *http.Request, u user) {
	setting := otelaudit.Resource{Type: "setting", ID: r.PathValue("name")}
	value := r.FormValue("value")

	p.mu.Lock()
	mine := p.settings[u.ID]
	if mine == nil {
		mine = map[string]string{}
		p.settings[u.ID] = mine
	}
	previous, existed := mine[setting.ID]
	if len(value) <= maxSettingLen {
		mine[setting.ID] = value
	}
	p.mu.Unlock()

	var prev any // nil: the setting had no value yet
	if existed {
		prev = previous
	}
	if len(value) > maxSettingLen {
		p.audit.SettingsChangeFailed(r.Context(), u.actor(), setting, "value_too_long", prev,
			map[string]any{"bytes": len(value), "limit": maxSettingLen})
		http.Error(w, "value too long", http.StatusUnprocessableEntity)
		return
	}
	p.audit.SettingsChanged(r.Context(), u.actor(), setting, prev, value)
	w.WriteHeader(http.StatusNoContent)
}

// exportRequest is what the portal records about a data export request.
type exportRequest struct {
	Format string   `json:"format"`
	Scope  []string `json:"scope"`
}

func (p *portal) requestExport(w http.ResponseWriter, r *http.Request, u user) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	req := exportRequest{Format: r.PostForm.Get("format"), Scope: r.PostForm["scope"]}
	if len(req.Scope) == 0 {
		req.Scope = []string{"profile", "activity"}
	}
	if !slices.Contains(exportFormats, req.Format) {
		p.audit.DataExportRequestFailed(r.Context(), u.actor(), "", "unsupported_format", req)
		http.Error(w, "unsupported format", http.StatusBadRequest)
		return
	}
	id := fmt.Sprintf("exp-%06d", p.exports.Add(1))
	p.audit.DataExportRequested(r.Context(), u.actor(), id, req)
	w.Header().Set("Location", "/exports/"+id)
	w.WriteHeader(http.StatusAccepted)
}

// adminDetails is what the portal records about an admin action.
type adminDetails struct {
	Op     string `json:"op"`
	Ticket string `json:"ticket,omitempty"`
}

func (p *portal) adminAction(w http.ResponseWriter, r *http.Request, admin user) {
	target := otelaudit.Resource{Type: "user", ID: r.PathValue("id")}
	details := adminDetails{Op: r.PathValue("op"), Ticket: r.FormValue("ticket")}
	t, known := p.users[target.ID]
	switch {
	case !admin.Admin:
		p.audit.AdminActionFailed(r.Context(), admin.actor(), target, "permission_denied", details)
		http.Error(w, "admins only", http.StatusForbidden)
		return
	case !known || t.Workspace != admin.Workspace:
		p.audit.AdminActionFailed(r.Context(), admin.actor(), target, "target_not_found", details)
		http.Error(w, "no such user in this workspace", http.StatusNotFound)
		return
	case !slices.Contains(adminOps, details.Op):
		p.audit.AdminActionFailed(r.Context(), admin.actor(), target, "unknown_operation", details)
		http.Error(w, "unknown operation", http.StatusBadRequest)
		return
	}
	p.audit.AdminAction(r.Context(), admin.actor(), target, details)
	w.WriteHeader(http.StatusNoContent)
}
