package main

// ACK counting for GET /acked, as ../lib/acks.ts does for the TypeScript servers: per update seq,
// the time at which the server processed the ACK that completed the S-th stream, a stream being
// complete once it ACKed every type the update changed at the version that update produced. Each
// (stream, type) counts once; a NACK never counts.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
)

// ackKeep is how many updates are remembered; the runner asks for the newest one.
const ackKeep = 8

// nowMs is Unix time in ms with a sub-ms fraction: the clock of nowMs() in ../lib/proc.ts.
func nowMs() float64 { return float64(time.Now().UnixNano()) / 1e6 }

type ackTracker struct {
	seq        int
	index      map[string]int    // typeURL → bit index
	versions   map[string]string // typeURL → version the update produced
	full       uint32
	acked      map[int64]uint32 // stream → bits of the types it ACKed
	streams    []int            // per type index: streams counted
	acks       []int            // per type index: every ACK of the version (a stream may ACK it twice)
	completed  []float64        // when each stream completed, in processing order
	expectedAt float64
}

type deltaSent struct{ typeURL, version string }

type ackCounter struct {
	mu       sync.Mutex
	trackers []*ackTracker // oldest first
	waiting  int
	changed  chan struct{} // closed (and replaced) when a waiter may be answerable
	// Delta: per stream, nonce → type and system_version_info of the response with that nonce.
	deltaNonces map[int64]map[string]deltaSent
}

func newAckCounter() *ackCounter {
	return &ackCounter{changed: make(chan struct{}), deltaNonces: map[int64]map[string]deltaSent{}}
}

func (a *ackCounter) wake() {
	if a.waiting > 0 {
		close(a.changed)
		a.changed = make(chan struct{})
	}
}

// expect registers update seq's versions (typeURL → version); call it before the snapshot is set.
func (a *ackCounter) expect(seq int, versions map[string]string) {
	t := &ackTracker{seq: seq, index: map[string]int{}, versions: versions, acked: map[int64]uint32{}, expectedAt: nowMs()}
	for typeURL := range versions {
		t.index[typeURL] = len(t.index)
	}
	t.full = 1<<len(t.index) - 1
	t.streams = make([]int, len(t.index))
	t.acks = make([]int, len(t.index))
	a.mu.Lock()
	defer a.mu.Unlock()
	a.trackers = append(a.trackers, t)
	if len(a.trackers) > ackKeep {
		a.trackers = a.trackers[len(a.trackers)-ackKeep:]
	}
	a.wake()
}

// acked records that the server processed an ACK of version of typeURL on stream.
func (a *ackCounter) acked(stream int64, typeURL, version string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	at := 0.0
	for _, t := range a.trackers {
		if t.versions[typeURL] != version {
			continue
		}
		i, ok := t.index[typeURL]
		if !ok {
			continue
		}
		t.acks[i]++
		bits, bit := t.acked[stream], uint32(1)<<i
		if bits&bit != 0 {
			continue
		}
		t.acked[stream] = bits | bit
		t.streams[i]++
		if bits|bit == t.full {
			if at == 0 {
				at = nowMs()
			}
			t.completed = append(t.completed, at)
			a.wake()
		}
	}
}

func (a *ackCounter) find(seq int) *ackTracker {
	for _, t := range a.trackers {
		if t.seq == seq {
			return t
		}
	}
	return nil
}

// ackedAnswer is the GET /acked answer (AckedResponse in ../lib/protocol.ts).
type ackedAnswer struct {
	AckedAt float64        `json:"ackedAt"`
	Streams map[string]int `json:"streams"`
	Acks    map[string]int `json:"acks"`
}

func (t *ackTracker) answer(at float64) *ackedAnswer {
	out := &ackedAnswer{AckedAt: at, Streams: map[string]int{}, Acks: map[string]int{}}
	for typeURL, i := range t.index {
		out.Streams[typeURL], out.Acks[typeURL] = t.streams[i], t.acks[i]
	}
	return out
}

// wait answers once streams streams completed update seq, or returns an error after timeout.
func (a *ackCounter) wait(ctx context.Context, seq, streams int, timeout time.Duration) (*ackedAnswer, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	a.mu.Lock()
	a.waiting++
	defer func() {
		a.mu.Lock()
		a.waiting--
		a.mu.Unlock()
	}()
	for {
		if t := a.find(seq); t != nil {
			if streams <= 0 || len(t.completed) >= streams {
				at := t.expectedAt
				if streams > 0 {
					at = t.completed[streams-1]
				}
				answer := t.answer(at)
				a.mu.Unlock()
				return answer, nil
			}
		}
		ch := a.changed
		a.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timer.C:
			a.mu.Lock()
			defer a.mu.Unlock()
			return nil, a.describe(seq, streams, timeout)
		}
		a.mu.Lock()
	}
}

func (a *ackCounter) describe(seq, streams int, timeout time.Duration) error {
	t := a.find(seq)
	if t == nil {
		return fmt.Errorf("update seq %d was not applied on this server within %d ms", seq, timeout.Milliseconds())
	}
	var types []string
	for typeURL, i := range t.index {
		types = append(types, fmt.Sprintf("%s %q: %d streams", typeURL[strings.LastIndex(typeURL, ".")+1:], t.versions[typeURL], t.streams[i]))
	}
	return fmt.Errorf("after %d ms only %d of %d streams ACKed update seq %d (%s)",
		timeout.Milliseconds(), len(t.completed), streams, seq, strings.Join(types, ", "))
}

// callbacks feed the counter from go-control-plane's server. SotW: a request with a response_nonce,
// no error_detail and the version_info of the ACKed response. Delta: the response's nonce is mapped
// to its type and system_version_info; the request carrying that nonce without error_detail ACKs it.
// Delta streams are keyed by -id so they never collide with SotW stream ids.
func (a *ackCounter) callbacks() serverv3.Callbacks {
	return serverv3.CallbackFuncs{
		StreamRequestFunc: func(id int64, req *discovery.DiscoveryRequest) error {
			if req.GetResponseNonce() != "" && req.GetErrorDetail() == nil {
				a.acked(id, req.GetTypeUrl(), req.GetVersionInfo())
			}
			return nil
		},
		StreamDeltaResponseFunc: func(id int64, req *discovery.DeltaDiscoveryRequest, resp *discovery.DeltaDiscoveryResponse) {
			typeURL := resp.GetTypeUrl()
			if typeURL == "" {
				typeURL = req.GetTypeUrl()
			}
			a.mu.Lock()
			defer a.mu.Unlock()
			m := a.deltaNonces[id]
			if m == nil {
				m = map[string]deltaSent{}
				a.deltaNonces[id] = m
			}
			m[resp.GetNonce()] = deltaSent{typeURL, resp.GetSystemVersionInfo()}
		},
		StreamDeltaRequestFunc: func(id int64, req *discovery.DeltaDiscoveryRequest) error {
			nonce := req.GetResponseNonce()
			if nonce == "" {
				return nil
			}
			a.mu.Lock()
			sent, ok := a.deltaNonces[id][nonce]
			delete(a.deltaNonces[id], nonce)
			a.mu.Unlock()
			if ok && req.GetErrorDetail() == nil {
				a.acked(-id, sent.typeURL, sent.version)
			}
			return nil
		},
		DeltaStreamClosedFunc: func(id int64, _ *core.Node) {
			a.mu.Lock()
			delete(a.deltaNonces, id)
			a.mu.Unlock()
		},
	}
}
