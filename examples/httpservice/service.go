package main

import (
	"crypto/rand"
	"net/http"
	"sync"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
)

// service is a toy application: one user, sessions and settings in memory.
type service struct {
	audit *bridge.Auditor

	mu       sync.Mutex
	sessions map[string]string // session id -> user id
	settings map[string]string // setting name -> value
}

var passwords = map[string]string{"ada": "lovelace"}

const workspace = "ws-1"

func newService(audit *bridge.Auditor) *service {
	return &service{audit: audit, sessions: map[string]string{}, settings: map[string]string{}}
}

func (s *service) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.logout)
	mux.HandleFunc("PUT /settings/{name}", s.changeSetting)
	return mux
}

func sessionID(r *http.Request) string {
	if c, err := r.Cookie("session"); err == nil {
		return c.Value
	}
	return ""
}

func (s *service) login(w http.ResponseWriter, r *http.Request) {
	user, password := r.FormValue("user"), r.FormValue("password")
	actor := otelaudit.Actor{UserID: user, WorkspaceID: workspace}
	want, known := passwords[user]
	switch {
	case !known:
		s.audit.LoginFailed(r.Context(), actor, "unknown_user")
		http.Error(w, "invalid credentials", http.StatusUnauthorized)
		return
	case password != want:
		s.audit.LoginFailed(r.Context(), actor, "invalid_password")
		http.Error(w, "invalid credentials", http.StatusUnauthorized)
		return
	}
	sid := rand.Text()
	s.mu.Lock()
	s.sessions[sid] = user
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "session", Value: sid, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	// The new session is not in the request context yet: record it here.
	s.audit.Record(r.Context(), otelaudit.Event{
		Action: otelaudit.ActionLogin,
		Actor:  actor,
		Client: otelaudit.Client{SessionID: sid},
	})
	w.WriteHeader(http.StatusNoContent)
}

func (s *service) logout(w http.ResponseWriter, r *http.Request) {
	user, ok := s.user(r)
	if !ok {
		http.Error(w, "not logged in", http.StatusUnauthorized)
		return
	}
	s.mu.Lock()
	delete(s.sessions, sessionID(r))
	s.mu.Unlock()
	s.audit.Logout(r.Context(), otelaudit.Actor{UserID: user, WorkspaceID: workspace})
	w.WriteHeader(http.StatusNoContent)
}

// maxSettingLen is the longest setting value accepted.
const maxSettingLen = 64

func (s *service) changeSetting(w http.ResponseWriter, r *http.Request) {
	user, ok := s.user(r)
	if !ok {
		http.Error(w, "not logged in", http.StatusUnauthorized)
		return
	}
	actor := otelaudit.Actor{UserID: user, WorkspaceID: workspace}
	setting := otelaudit.Resource{Type: "setting", ID: r.PathValue("name")}
	value := r.FormValue("value")

	s.mu.Lock()
	previous, existed := s.settings[setting.ID]
	if len(value) <= maxSettingLen {
		s.settings[setting.ID] = value
	}
	s.mu.Unlock()

	var prev any // nil: the setting had no value
	if existed {
		prev = previous
	}
	if len(value) > maxSettingLen {
		s.audit.SettingsChangeFailed(r.Context(), actor, setting, "value_too_long", prev, map[string]any{"bytes": len(value)})
		http.Error(w, "value too long", http.StatusBadRequest)
		return
	}
	s.audit.SettingsChanged(r.Context(), actor, setting, prev, value)
	w.WriteHeader(http.StatusNoContent)
}

// user returns the user of the request's session.
func (s *service) user(r *http.Request) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	user, ok := s.sessions[sessionID(r)]
	return user, ok
}
