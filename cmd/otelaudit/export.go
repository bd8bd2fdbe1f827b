package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/google/uuid"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/trail"
)

func runExport(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("export", e)
	var c conn
	c.register(fs, e)
	user := fs.String("user", "", "the user whose events to export, as actor or target (required)")
	output := fs.String("output", "jsonl", "jsonl or csv")
	out := fs.String("out", "", "file to write (default standard output)")
	op := fs.String("operator", "", "who runs the export, the actor of the data_export_completed event (default $OTELAUDIT_OPERATOR, else $USER)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if *user == "" {
		return usagef("--user is required")
	}
	if err := outputFormat(*output, "jsonl", "csv"); err != nil {
		return err
	}
	defer c.close()
	pool, err := c.postgres(ctx)
	if err != nil {
		return err
	}
	r, err := trail.NewPostgres(pool, trail.WithPostgresTable(c.pgSchema, c.pgTable))
	if err != nil {
		return err
	}
	var w io.Writer = e.stdout
	if *out != "" {
		f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	rw := newRecordWriter(w, *output)
	prog := newProgress(e, "exported events")
	f := trail.Filter{Subject: *user}
	page := trail.Page{Limit: trail.MaxLimit, Order: trail.OldestFirst}
	var n int64
	for {
		res, err := r.Search(ctx, f, page)
		if err != nil {
			return err
		}
		for _, rec := range res.Records {
			if err := rw.write(rec); err != nil {
				return err
			}
			n++
		}
		prog.update(n)
		if res.Next == "" {
			break
		}
		page.After = res.Next
	}
	if err := rw.flush(); err != nil {
		return err
	}
	if cl, ok := w.(*os.File); ok && cl != os.Stdout {
		if err := cl.Sync(); err != nil {
			return err
		}
	}
	prog.done(n)
	exportID := uuid.Must(uuid.NewV7()).String()
	ev := otelaudit.Event{
		Action:   otelaudit.ActionDataExportCompleted,
		Actor:    otelaudit.Actor{UserID: operator(*op, e)},
		Resource: otelaudit.Resource{Type: trail.UserResourceType, ID: *user},
		Details:  otelaudit.Value(map[string]any{"export_id": exportID, "events": n, "format": *output, "source": "postgres"}),
	}
	if err := recordEvent(ctx, &c, ev); err != nil {
		return fmt.Errorf("the export was written (%d events) but could not be recorded: %w", n, err)
	}
	fmt.Fprintf(e.stderr, "exported %d events of user %s (export %s)\n", n, *user, exportID)
	return nil
}
