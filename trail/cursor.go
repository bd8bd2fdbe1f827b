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
// order of [Postgres.Follow].
type tailPosition struct {
	arrival uint64
	position
}

func (p tailPosition) String() string {
	return "t" + strconv.FormatUint(p.arrival, 10) + "." + p.position.String()
}

func parseTailPosition(s string) (tailPosition, error) {
	rest, ok := strings.CutPrefix(s, "t")
	if !ok {
		return tailPosition{}, fmt.Errorf("%w: %q is not a tail cursor", ErrInvalidCursor, s)
	}
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
	return tailPosition{arrival: arrival, position: p}, nil
}
