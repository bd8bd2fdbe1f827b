package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// On-disk format.
//
// A segment file is named by its number (20 decimal digits, ".seg") and
// starts with a header:
//
//	magic "OTAJRNL1" | segment number uint64 | reserved uint32 | CRC-32C of the preceding 20 bytes
//
// followed by frames, each
//
//	marker uint32 | payload length uint32 | CRC-32C of (length, payload) | payload
//
// all little-endian. The marker lets recovery find the next frame after a
// damaged one. The payload starts with its kind (record or origin, see
// codec.go).
const (
	segMagic      = "OTAJRNL1"
	segHeaderSize = 24
	frameMarker   = 0x7a3cd1e5
	frameHeader   = 12
	segSuffix     = ".seg"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func segName(n uint64) string { return fmt.Sprintf("%020d%s", n, segSuffix) }

func appendSegHeader(b []byte, n uint64) []byte {
	start := len(b)
	b = append(b, segMagic...)
	b = binary.LittleEndian.AppendUint64(b, n)
	b = binary.LittleEndian.AppendUint32(b, 0)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

func checkSegHeader(h []byte, n uint64) error {
	if len(h) < segHeaderSize || string(h[:8]) != segMagic {
		return errors.New("not a journal segment")
	}
	if crc32.Checksum(h[:20], castagnoli) != binary.LittleEndian.Uint32(h[20:24]) {
		return errors.New("segment header checksum mismatch")
	}
	if got := binary.LittleEndian.Uint64(h[8:16]); got != n {
		return fmt.Errorf("segment header says number %d", got)
	}
	return nil
}

// beginFrame reserves a frame header at the end of b; endFrame fills it in
// once the payload has been appended.
func beginFrame(b []byte) ([]byte, int) {
	return append(b, make([]byte, frameHeader)...), len(b)
}

func endFrame(b []byte, start int) {
	n := len(b) - start - frameHeader
	h := b[start : start+frameHeader]
	binary.LittleEndian.PutUint32(h[0:], frameMarker)
	binary.LittleEndian.PutUint32(h[4:], uint32(n))
	crc := crc32.Update(0, castagnoli, h[4:8])
	crc = crc32.Update(crc, castagnoli, b[start+frameHeader:])
	binary.LittleEndian.PutUint32(h[8:], crc)
}

// listSegments returns the numbers of the segment files in dir, ascending.
func listSegments(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var nums []uint64
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, segSuffix) || e.IsDir() {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(name, segSuffix), 10, 64)
		if err != nil {
			continue
		}
		nums = append(nums, n)
	}
	slices.Sort(nums)
	return nums, nil
}

func segPath(dir string, n uint64) string { return filepath.Join(dir, segName(n)) }

// damage describes a damaged stretch of a segment that recovery skipped.
type damage struct {
	seg        uint64
	off, bytes int64
}

// scanner reads the frames of one segment file from an offset, up to a
// limit that may grow (the segment being written). It resynchronises after a
// damaged frame on the next marker that starts a valid frame.
type scanner struct {
	f      io.ReaderAt
	seg    uint64
	off    int64 // offset of the next frame
	limit  int64 // bytes of the file that may be read
	sealed bool  // the segment is complete: a frame past limit is torn

	buf      []byte
	bufStart int64
	maxFrame int
}

const scanBuf = 1 << 20

// window makes [off, off+n) readable from s.buf and returns it, or nil when
// those bytes are beyond the limit.
func (s *scanner) window(off int64, n int) ([]byte, error) {
	if off+int64(n) > s.limit {
		return nil, nil
	}
	if off >= s.bufStart && off+int64(n) <= s.bufStart+int64(len(s.buf)) {
		i := off - s.bufStart
		return s.buf[i : i+int64(n)], nil
	}
	size := min(max(n, scanBuf), int(s.limit-off))
	if cap(s.buf) < size {
		s.buf = make([]byte, size)
	}
	s.buf = s.buf[:size]
	m, err := s.f.ReadAt(s.buf, off)
	if m < n {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		s.buf = s.buf[:0]
		return nil, err
	}
	s.buf, s.bufStart = s.buf[:m], off
	return s.buf[:n], nil
}

// frameAt validates the frame at off and returns its payload (valid until
// the next call), or ok=false when no valid frame starts there. more reports
// that the frame may still be completed (it runs past an unsealed limit).
func (s *scanner) frameAt(off int64) (payload []byte, ok, more bool, err error) {
	h, err := s.window(off, frameHeader)
	if err != nil {
		return nil, false, false, err
	}
	if h == nil {
		return nil, false, !s.sealed, nil
	}
	if binary.LittleEndian.Uint32(h[0:]) != frameMarker {
		return nil, false, false, nil
	}
	n := binary.LittleEndian.Uint32(h[4:])
	want := binary.LittleEndian.Uint32(h[8:])
	if n == 0 || int64(n) > int64(s.maxFrame) {
		return nil, false, false, nil
	}
	fr, err := s.window(off, frameHeader+int(n))
	if err != nil {
		return nil, false, false, err
	}
	if fr == nil {
		return nil, false, !s.sealed, nil
	}
	crc := crc32.Update(0, castagnoli, fr[4:8])
	if crc32.Update(crc, castagnoli, fr[frameHeader:]) != want {
		return nil, false, false, nil
	}
	return fr[frameHeader:], true, false, nil
}

// next returns the next valid frame's payload and its offset, io.EOF when
// no complete frame is left below the limit, and reports a damaged stretch
// it skipped (at most one per call).
func (s *scanner) next() (payload []byte, at int64, dmg *damage, err error) {
	for {
		if s.off >= s.limit {
			return nil, s.off, dmg, io.EOF
		}
		p, ok, more, err := s.frameAt(s.off)
		if err != nil {
			return nil, s.off, dmg, err
		}
		if ok {
			at = s.off
			s.off += frameHeader + int64(len(p))
			return p, at, dmg, nil
		}
		if more {
			return nil, s.off, dmg, io.EOF
		}
		if dmg != nil {
			// Only reached if resync stopped on a frame that then failed:
			// cannot happen, but never loop.
			return nil, s.off, dmg, io.EOF
		}
		next, err := s.resync(s.off + 1)
		if err != nil {
			return nil, s.off, dmg, err
		}
		dmg = &damage{seg: s.seg, off: s.off, bytes: next - s.off}
		s.off = next
	}
}

// resync returns the offset of the first valid frame at or after from, or
// the limit when there is none.
func (s *scanner) resync(from int64) (int64, error) {
	var marker [4]byte
	binary.LittleEndian.PutUint32(marker[:], frameMarker)
	for off := from; off+frameHeader <= s.limit; {
		w, err := s.window(off, int(min(s.limit-off, scanBuf)))
		if err != nil {
			return 0, err
		}
		i := bytes.Index(w, marker[:])
		if i < 0 {
			off += int64(max(len(w)-3, 1))
			continue
		}
		cand := off + int64(i)
		if _, ok, _, err := s.frameAt(cand); err != nil {
			return 0, err
		} else if ok {
			return cand, nil
		}
		off = cand + 1
	}
	return s.limit, nil
}
