package trail_test

import (
	"context"
	"fmt"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/otelaudit/otelaudit/trail"
)

// Filters are checked before any SQL is built; their values are bound as
// parameters.
func ExampleFilter_Validate() {
	for _, f := range []trail.Filter{
		{Workspace: "ws_1", Action: "oauth.*", ClientIP: "2001:db8::1"},
		{Outcome: "maybe"},
		{Action: "login'; DROP TABLE audit_logs; --"},
	} {
		fmt.Println(f.Validate())
	}
	// Output:
	// <nil>
	// trail: invalid filter: outcome "maybe" is neither "success" nor "failure"
	// trail: invalid filter: action "login'; DROP TABLE audit_logs; --": an action is lower-case letters, digits, '_' and '.', with an optional trailing '*'
}

// Every failed login of one workspace, page by page. (Not run: it needs a
// database.)
func ExamplePostgres_Search() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("OTELAUDIT_POSTGRES_DSN"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Close()
	r, err := trail.NewPostgres(pool)
	if err != nil {
		fmt.Println(err)
		return
	}
	f := trail.Filter{Workspace: "ws_1", Action: "login", Outcome: "failure"}
	page := trail.Page{Limit: 100}
	for {
		res, err := r.Search(ctx, f, page)
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, rec := range res.Records {
			fmt.Println(rec.Time, rec.Actor.UserID, rec.Client.IP, rec.Outcome.ErrorType)
		}
		if res.Next == "" {
			return
		}
		page.After = res.Next
	}
}
