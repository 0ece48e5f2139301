package main

// The gRPC codec of the load client: requests are pre-encoded bytes, responses are never decoded into
// messages. grpc-go calls Unmarshal on the stream's receive goroutine with the received buffers (freed when
// it returns), so the shallow parse happens right there, on the chunks, without joining them.

import (
	"fmt"

	"google.golang.org/grpc/mem"
)

// outMsg is one request: a shared pre-encoded prefix (for a SotW EDS ACK the whole subscription) and a
// small per-request tail (version, nonce). Both go out as they are; nothing is copied into one buffer.
type outMsg struct {
	prefix []byte
	tail   []byte
}

// rawCodec is the CodecV2 passed with grpc.ForceCodecV2. Its name makes the content-type
// application/grpc+proto, which every server accepts: the bytes are protobuf.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(*outMsg)
	if !ok {
		return nil, fmt.Errorf("rawCodec: cannot marshal %T", v)
	}
	out := make(mem.BufferSlice, 0, 2)
	if len(m.prefix) > 0 {
		out = append(out, mem.SliceBuffer(m.prefix)) // SliceBuffer: Free is a no-op, the prefix stays shared
	}
	if len(m.tail) > 0 {
		out = append(out, mem.SliceBuffer(m.tail))
	}
	return out, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	s, ok := v.(*stream)
	if !ok {
		return fmt.Errorf("rawCodec: cannot unmarshal into %T", v)
	}
	return s.take(data)
}
