package bench

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/otelaudit/otelaudit/exporter/journal"
)

// journalWatch follows a journal directory while the journal writes it and
// deletes what its exporters have confirmed, to tell how many bytes the
// journal wrote in all (the final size of every segment file) and how large
// it grew (the peak of journal.Stats.Bytes, which counts the segment files
// and the records not yet written to them).
//
// It opens each segment file as soon as a poll sees it and keeps it open
// until a poll finds it deleted: an open file keeps its data, so its final
// size can still be read after the journal has deleted it. A segment that
// was created and deleted between two polls is never seen; finish then
// reports an error rather than a short total. (With the default 64 MiB
// segments the journal takes far longer than a poll interval to fill and
// deliver one.)
//
// Its methods are not safe for concurrent use: one goroutine polls.
type journalWatch struct {
	dir  string
	proc *journal.Processor

	open  map[uint64]*os.File // segments seen and not yet deleted
	final map[uint64]int64    // final sizes of the segments seen deleted
	peak  int64
	err   error
}

func newJournalWatch(dir string, proc *journal.Processor) *journalWatch {
	return &journalWatch{dir: dir, proc: proc, open: map[uint64]*os.File{}, final: map[uint64]int64{}}
}

// journalUsage is what a journalWatch saw.
type journalUsage struct {
	// Bytes is the sum of the final sizes of every segment file the
	// journal wrote.
	Bytes int64
	// Segments is how many segment files it wrote.
	Segments int
	// PeakBytes is the largest journal size sampled.
	PeakBytes int64
}

// poll lists the directory, opens the new segment files, records the final
// size of those deleted since the last poll, and samples the journal's
// size.
func (w *journalWatch) poll() {
	if b := w.proc.Stats().Bytes; b > w.peak {
		w.peak = b
	}
	entries, err := os.ReadDir(w.dir)
	if err != nil {
		w.fail(fmt.Errorf("list journal directory: %w", err))
		return
	}
	present := make(map[uint64]bool, len(entries))
	for _, e := range entries {
		seg, ok := segmentNumber(e.Name())
		if !ok {
			continue
		}
		present[seg] = true
		if _, seen := w.open[seg]; seen {
			continue
		}
		if _, seen := w.final[seg]; seen {
			continue
		}
		f, err := os.Open(filepath.Join(w.dir, e.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			w.fail(fmt.Errorf("segment %d deleted before it could be opened", seg))
			continue
		}
		if err != nil {
			w.fail(fmt.Errorf("open segment: %w", err))
			continue
		}
		w.open[seg] = f
	}
	for seg, f := range w.open {
		if !present[seg] {
			// Deleted: every target confirmed all of it, so it is complete.
			w.closeSegment(seg, f)
		}
	}
}

// finish reads the final size of the segments still open and closes them,
// and returns what the watch saw. Call it once the journal has written
// everything (after ForceFlush or Shutdown). It reports an error when a
// segment was missed.
func (w *journalWatch) finish() (journalUsage, error) {
	w.poll()
	for seg, f := range w.open {
		w.closeSegment(seg, f)
	}
	if w.err != nil {
		return journalUsage{}, w.err
	}
	segs := make([]uint64, 0, len(w.final))
	var total int64
	for seg, size := range w.final {
		segs = append(segs, seg)
		total += size
	}
	slices.Sort(segs)
	if len(segs) == 0 {
		return journalUsage{}, errors.New("no segment file seen")
	}
	if n := segs[len(segs)-1] - segs[0] + 1; n != uint64(len(segs)) {
		return journalUsage{}, fmt.Errorf("saw %d segment files of the %d from %d to %d: some were written and deleted between two polls",
			len(segs), n, segs[0], segs[len(segs)-1])
	}
	return journalUsage{Bytes: total, Segments: len(segs), PeakBytes: w.peak}, nil
}

func (w *journalWatch) closeSegment(seg uint64, f *os.File) {
	fi, err := f.Stat()
	if err != nil {
		w.fail(fmt.Errorf("stat segment %d: %w", seg, err))
	} else {
		w.final[seg] = fi.Size()
	}
	_ = f.Close()
	delete(w.open, seg)
}

func (w *journalWatch) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

// segmentNumber parses a segment file name, twenty digits and ".seg" (see
// the journal package documentation, "On disk").
func segmentNumber(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, ".seg")
	if !ok || len(digits) != 20 {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	return n, err == nil
}
