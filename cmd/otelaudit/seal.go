package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/otelaudit/otelaudit/schema/seal"
)

// Keys are files holding hex: the private key as its 32-byte seed (or the
// 64-byte private key), the public key as its 32 bytes.
func readKey(path string, size ...int) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, usagef("%s: not a hex key: %v", path, err)
	}
	for _, s := range size {
		if len(k) == s {
			return k, nil
		}
	}
	return nil, usagef("%s: a key of %d bytes, expected %v", path, len(k), size)
}

func sealOptions(c *conn) []seal.Option {
	return []seal.Option{seal.WithSchema(c.pgSchema), seal.WithAuditTable(c.pgTable)}
}

func runSeal(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("seal", e)
	var c conn
	c.register(fs, e)
	keyFile := fs.String("key", "", "file holding the Ed25519 private key, hex (otelaudit keygen); required")
	window := fs.Duration("window", time.Hour, "window length")
	delay := fs.Duration("delay", 15*time.Minute, "seal a window this long after its end")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if *keyFile == "" {
		return usagef("--key is required")
	}
	k, err := readKey(*keyFile, ed25519.SeedSize, ed25519.PrivateKeySize)
	if err != nil {
		return err
	}
	key := ed25519.PrivateKey(k)
	if len(k) == ed25519.SeedSize {
		key = ed25519.NewKeyFromSeed(k)
	}
	defer c.close()
	pool, err := c.postgres(ctx)
	if err != nil {
		return err
	}
	s, err := seal.NewSealer(pool, key, append(sealOptions(&c), seal.WithWindow(*window), seal.WithDelay(*delay))...)
	if err != nil {
		return usageError{err.Error()}
	}
	rep, err := s.Seal(ctx)
	if err != nil {
		return err
	}
	for _, d := range rep.Digests {
		fmt.Fprintf(e.stdout, "sealed #%d [%s, %s) part %d: %d rows, root %x\n", d.Seq,
			d.Start.UTC().Format(time.RFC3339), d.End.UTC().Format(time.RFC3339), d.Part, d.Count, d.Root[:8])
	}
	fmt.Fprintf(e.stdout, "%d digests, %d rows (%d late)\n", len(rep.Digests), rep.Rows, rep.LateRows)
	return nil
}

func runVerify(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("verify", e)
	var c conn
	c.register(fs, e)
	pubFile := fs.String("public-key", "", "file holding the Ed25519 public key, hex; required")
	since := fs.String("since", "", "verify the sealed ranges from this time (the chain is always checked whole)")
	until := fs.String("until", "", "verify the sealed ranges before this time")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if *pubFile == "" {
		return usagef("--public-key is required")
	}
	pub, err := readKey(*pubFile, ed25519.PublicKeySize)
	if err != nil {
		return err
	}
	now := time.Now()
	from, err := parseTime("since", *since, now)
	if err != nil {
		return err
	}
	to, err := parseTime("until", *until, now)
	if err != nil {
		return err
	}
	defer c.close()
	pool, err := c.postgres(ctx)
	if err != nil {
		return err
	}
	v, err := seal.NewVerifier(pool, pub, append(sealOptions(&c), seal.WithRange(from, to))...)
	if err != nil {
		return usageError{err.Error()}
	}
	pg, err := seal.NewPostgresSource(pool, sealOptions(&c)...)
	if err != nil {
		return err
	}
	sources := []seal.Source{pg}
	if c.chDSN != "" {
		ch, o, err := c.clickhouse(ctx)
		if err != nil {
			return err
		}
		src, err := seal.NewClickHouseSource(ch, o)
		if err != nil {
			return err
		}
		sources = append(sources, src)
	}
	res, verr := v.Verify(ctx, sources...)
	if res == nil {
		return verr
	}
	var rows int64
	for _, rr := range res.Ranges {
		rows += rr.Sealed
	}
	for _, f := range res.Findings {
		fmt.Fprintln(e.stdout, f)
	}
	fmt.Fprintf(e.stdout, "%d digests, %d ranges, %d sealed rows checked in %d stores, %d erased, %d findings; tip #%d %x\n",
		res.Digests, len(res.Ranges), rows, len(sources), res.Erased, len(res.Findings), res.TipSeq, res.TipHash)
	if verr != nil {
		if errors.Is(verr, seal.ErrVerifyFailed) {
			return fmt.Errorf("%w: %w", errVerify, verr)
		}
		return verr
	}
	fmt.Fprintln(e.stdout, "OK")
	return nil
}

func runKeygen(_ context.Context, args []string, e env) error {
	fs := newFlagSet("keygen", e)
	out := fs.String("out", "", "write the private key (hex seed) to this file, mode 0600, and the public key to FILE.pub; required")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return usagef("--out is required")
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(f, hex.EncodeToString(priv.Seed())); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.WriteFile(*out+".pub", []byte(hex.EncodeToString(pub)+"\n"), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "private key %s (keep it with the sealing job only)\npublic key %s.pub: %x\n", *out, *out, []byte(pub))
	return nil
}
