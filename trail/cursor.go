package trail

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// ErrInvalidCursor is returned (wrapped) for a cursor this package did not
// make, or made for another kind of read.
var ErrInvalidCursor = errors.New("trail: invalid cursor")

// A page cursor is the position of the last event of a page:
// "<unix microseconds>.<event id>". It names a place in the (time, event
// id) order, not a row, so it stays valid whatever is written meanwhile,
// and either store can continue a page the other started.
type position struct {
	micros int64
	id     uuid.UUID
}

func (p position) String() string {
	return strconv.FormatInt(p.micros, 10) + "." + p.id.String()
}

func (p position) time() time.Time { return time.UnixMicro(p.micros).UTC() }

func parsePosition(s string) (position, error) {
	us, id, ok := strings.Cut(s, ".")
	if !ok {
		return position{}, fmt.Errorf("%w: %q", ErrInvalidCursor, s)
	}
	micros, err := strconv.ParseInt(us, 10, 64)
	if err != nil {
		return position{}, fmt.Errorf("%w: %q: %w", ErrInvalidCursor, s, err)
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return position{}, fmt.Errorf("%w: %q: %w", ErrInvalidCursor, s, err)
	}
	return position{micros: micros, id: u}, nil
}

// A tail cursor is "t<arrival>.<unix microseconds>.<event id>": the
// position of the last row delivered in the (arrival, time, event id)
// order of [Postgres.Follow]; a cursor from [Postgres.TailStart] may end
// in "~<lo>-<hi>,...": the ranges of transaction ids, above the position,
// that had ended when it was taken, whose rows are skipped.
type tailPosition struct {
	arrival uint64
	position
	skip []xidRange
}

// xidRange is [lo, hi] of transaction ids.
type xidRange struct{ lo, hi uint64 }

func (p tailPosition) String() string {
	s := "t" + strconv.FormatUint(p.arrival, 10) + "." + p.position.String()
	for i, r := range p.skip {
		sep := ","
		if i == 0 {
			sep = "~"
		}
		s += sep + strconv.FormatUint(r.lo, 10) + "-" + strconv.FormatUint(r.hi, 10)
	}
	return s
}

// skipped reports whether rows of transaction a are skipped.
func (p tailPosition) skipped(a uint64) bool {
	for _, r := range p.skip {
		if a >= r.lo && a <= r.hi {
			return true
		}
	}
	return false
}

// prune drops the skipped ranges the position has passed.
func (p *tailPosition) prune() {
	kept := p.skip[:0]
	for _, r := range p.skip {
		if r.hi > p.arrival || r.hi == p.arrival && p.position != maxPosition {
			kept = append(kept, r)
		}
	}
	p.skip = kept
	if len(p.skip) == 0 {
		p.skip = nil
	}
}

func parseTailPosition(s string) (tailPosition, error) {
	rest, ok := strings.CutPrefix(s, "t")
	if !ok {
		return tailPosition{}, fmt.Errorf("%w: %q is not a tail cursor", ErrInvalidCursor, s)
	}
	rest, skip, hasSkip := strings.Cut(rest, "~")
	a, pos, ok := strings.Cut(rest, ".")
	if !ok {
		return tailPosition{}, fmt.Errorf("%w: %q", ErrInvalidCursor, s)
	}
	arrival, err := strconv.ParseUint(a, 10, 64)
	if err != nil {
		return tailPosition{}, fmt.Errorf("%w: %q: %w", ErrInvalidCursor, s, err)
	}
	p, err := parsePosition(pos)
	if err != nil {
		return tailPosition{}, err
	}
	tp := tailPosition{arrival: arrival, position: p}
	if hasSkip {
		for r := range strings.SplitSeq(skip, ",") {
			lo, hi, ok := strings.Cut(r, "-")
			l, err1 := strconv.ParseUint(lo, 10, 64)
			h, err2 := strconv.ParseUint(hi, 10, 64)
			if !ok || err1 != nil || err2 != nil || l > h {
				return tailPosition{}, fmt.Errorf("%w: %q: skipped range %q", ErrInvalidCursor, s, r)
			}
			tp.skip = append(tp.skip, xidRange{l, h})
		}
	}
	return tp, nil
}
