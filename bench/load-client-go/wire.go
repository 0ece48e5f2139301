package main

// A tiny protobuf wire reader for the hot path: it reads the envelope fields of a (Delta)DiscoveryResponse
// straight out of the buffers gRPC received (one per HTTP/2 DATA frame, so a message is usually several
// chunks) without joining them, and skips the resources. Only the few bytes of a string that straddles two
// chunks are copied. The Go twin of ../lib/wire.ts (readSotwEnvelope / readDeltaEnvelope, stringField).

import (
	"errors"

	"google.golang.org/grpc/mem"
)

// Wire types of the protobuf encoding.
const (
	wireVarint = 0
	wireI64    = 1
	wireLen    = 2
	wireI32    = 5
)

var errTruncated = errors.New("truncated message")

// chunkReader is a cursor over a message split into chunks.
type chunkReader struct {
	cur  []byte          // unread part of the current chunk
	rest mem.BufferSlice // chunks after the current one
	off  int             // absolute offset of cur[0] in the message
	// scratch holds a string that straddles chunks; valid until the next call of bytes.
	scratch []byte
}

func (r *chunkReader) reset(data mem.BufferSlice) {
	r.cur, r.rest, r.off = nil, data, 0
}

// fill makes cur non-empty; false at the end of the message.
func (r *chunkReader) fill() bool {
	for len(r.cur) == 0 {
		if len(r.rest) == 0 {
			return false
		}
		r.cur, r.rest = r.rest[0].ReadOnlyData(), r.rest[1:]
	}
	return true
}

func (r *chunkReader) done() bool { return !r.fill() }

func (r *chunkReader) varint() (uint64, error) {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if !r.fill() {
			return 0, errTruncated
		}
		b := r.cur[0]
		r.cur = r.cur[1:]
		r.off++
		v |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return v, nil
		}
	}
	return 0, errors.New("varint too long")
}

// tag reads a field tag: field number and wire type.
func (r *chunkReader) tag() (int, int, error) {
	t, err := r.varint()
	return int(t >> 3), int(t & 7), err
}

func (r *chunkReader) skipBytes(n int) error {
	for n > 0 {
		if !r.fill() {
			return errTruncated
		}
		k := min(n, len(r.cur))
		r.cur = r.cur[k:]
		r.off += k
		n -= k
	}
	return nil
}

// bytes reads n bytes: a view into the chunk when they lie in one (valid while gRPC holds the message),
// else a copy in scratch.
func (r *chunkReader) bytes(n int) ([]byte, error) {
	if !r.fill() && n > 0 {
		return nil, errTruncated
	}
	if n <= len(r.cur) {
		b := r.cur[:n]
		r.cur = r.cur[n:]
		r.off += n
		return b, nil
	}
	r.scratch = r.scratch[:0]
	for len(r.scratch) < n {
		if !r.fill() {
			return nil, errTruncated
		}
		k := min(n-len(r.scratch), len(r.cur))
		r.scratch = append(r.scratch, r.cur[:k]...)
		r.cur = r.cur[k:]
		r.off += k
	}
	return r.scratch, nil
}

func (r *chunkReader) length() (int, error) {
	n, err := r.varint()
	if err != nil {
		return 0, err
	}
	if n > 1<<31 {
		return 0, errTruncated
	}
	return int(n), nil
}

func (r *chunkReader) skip(wireType int) error {
	switch wireType {
	case wireVarint:
		_, err := r.varint()
		return err
	case wireI64:
		return r.skipBytes(8)
	case wireLen:
		n, err := r.length()
		if err != nil {
			return err
		}
		return r.skipBytes(n)
	case wireI32:
		return r.skipBytes(4)
	default:
		return errors.New("unsupported wire type")
	}
}

// Type URLs the load client tells apart without allocating.
type resourceType uint8

const (
	typeOther resourceType = iota
	typeCDS
	typeEDS
)

const (
	cdsTypeURL = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
	edsTypeURL = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
)

func classify(typeURL []byte) resourceType {
	switch string(typeURL) { // no allocation: the compiler compares the bytes
	case cdsTypeURL:
		return typeCDS
	case edsTypeURL:
		return typeEDS
	}
	return typeOther
}

// envelope holds what a load client needs from one response. version and nonce are copies (the
// receive buffers are gone once the codec returns).
type envelope struct {
	typ           resourceType
	version       []byte // SotW version_info / delta system_version_info
	nonce         []byte
	resourceCount int
	removedCount  int
	// hasWanted: a resource named like the wanted name is in the response (delta only; see readEnvelope).
	hasWanted bool
}

// readEnvelope reads a DiscoveryResponse (delta=false: version_info 1, resources 2, type_url 4, nonce 5) or a
// DeltaDiscoveryResponse (delta=true: system_version_info 1, resources 2, type_url 4, nonce 5,
// removed_resources 6). With delta and a non-empty want it also looks for a Resource named want (field 3 of
// discovery.v3.Resource) without reading the rest of it. version and nonce reuse the envelope's slices.
func readEnvelope(r *chunkReader, data mem.BufferSlice, delta bool, want string, out *envelope) error {
	r.reset(data)
	out.typ, out.version, out.nonce = typeOther, out.version[:0], out.nonce[:0]
	out.resourceCount, out.removedCount, out.hasWanted = 0, 0, false
	for !r.done() {
		field, wt, err := r.tag()
		if err != nil {
			return err
		}
		if wt != wireLen {
			if err := r.skip(wt); err != nil {
				return err
			}
			continue
		}
		n, err := r.length()
		if err != nil {
			return err
		}
		switch {
		case field == 1 || field == 4 || field == 5:
			b, err := r.bytes(n)
			if err != nil {
				return err
			}
			switch field {
			case 1:
				out.version = append(out.version, b...)
			case 4:
				out.typ = classify(b)
			case 5:
				out.nonce = append(out.nonce, b...)
			}
		case field == 2:
			out.resourceCount++
			if delta && want != "" && !out.hasWanted {
				found, err := resourceNamed(r, n, want)
				if err != nil {
					return err
				}
				out.hasWanted = found
			} else if err := r.skipBytes(n); err != nil {
				return err
			}
		case field == 6 && delta:
			out.removedCount++
			if err := r.skipBytes(n); err != nil {
				return err
			}
		default:
			if err := r.skipBytes(n); err != nil {
				return err
			}
		}
	}
	return nil
}

// resourceNamed reads a discovery.v3.Resource of n bytes and reports whether its name (field 3) is want;
// the reader ends after the resource.
func resourceNamed(r *chunkReader, n int, want string) (bool, error) {
	end := r.off + n
	found := false
	for r.off < end {
		field, wt, err := r.tag()
		if err != nil {
			return false, err
		}
		if field == 3 && wt == wireLen {
			l, err := r.length()
			if err != nil {
				return false, err
			}
			b, err := r.bytes(l)
			if err != nil {
				return false, err
			}
			found = string(b) == want
			break
		}
		if err := r.skip(wt); err != nil {
			return false, err
		}
	}
	if r.off > end {
		return false, errTruncated
	}
	return found, r.skipBytes(end - r.off)
}

// appendStringField appends one length-delimited field (`field = value`) to an encoded message.
func appendStringField(dst []byte, field int, value []byte) []byte {
	dst = appendVarint(dst, uint64(field)<<3|wireLen)
	dst = appendVarint(dst, uint64(len(value)))
	return append(dst, value...)
}

func appendVarint(dst []byte, v uint64) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}
