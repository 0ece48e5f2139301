package main

import (
	"fmt"
	"math/rand/v2"
	"testing"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// chunks splits b at random points (sizes 1..max), as gRPC hands over a message in DATA-frame pieces.
func chunks(b []byte, rng *rand.Rand, max int) mem.BufferSlice {
	var out mem.BufferSlice
	for len(b) > 0 {
		n := min(len(b), 1+rng.IntN(max))
		out = append(out, mem.SliceBuffer(b[:n]))
		b = b[n:]
	}
	return out
}

func anyCLA(t *testing.T, name string) *anypb.Any {
	t.Helper()
	a, err := anypb.New(&endpointv3.ClusterLoadAssignment{ClusterName: name})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestReadEnvelopeSotw(t *testing.T) {
	msg := &discoveryv3.DiscoveryResponse{VersionInfo: "v42", TypeUrl: edsTypeURL, Nonce: "n-7"}
	for i := range 50 {
		msg.Resources = append(msg.Resources, anyCLA(t, fmt.Sprintf("outbound|9080||svc-%05d", i)))
	}
	buf, err := proto.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var rd chunkReader
	var env envelope
	for _, max := range []int{1, 3, 17, 1 << 20} {
		for range 20 {
			if err := readEnvelope(&rd, chunks(buf, rng, max), false, "", &env); err != nil {
				t.Fatal(err)
			}
			if env.typ != typeEDS || string(env.version) != "v42" || string(env.nonce) != "n-7" || env.resourceCount != 50 {
				t.Fatalf("max %d: got type %d version %q nonce %q count %d", max, env.typ, env.version, env.nonce, env.resourceCount)
			}
		}
	}
}

func TestReadEnvelopeDelta(t *testing.T) {
	msg := &discoveryv3.DeltaDiscoveryResponse{SystemVersionInfo: "7", TypeUrl: cdsTypeURL, Nonce: "abc", RemovedResources: []string{"x", "y"}}
	for i := range 30 {
		name := fmt.Sprintf("outbound|9080||svc-%05d", i)
		msg.Resources = append(msg.Resources, &discoveryv3.Resource{Version: "1", Resource: anyCLA(t, name), Name: name})
	}
	buf, err := proto.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var rd chunkReader
	var env envelope
	for _, max := range []int{1, 5, 64, 1 << 20} {
		for _, want := range []string{"", "outbound|9080||svc-00029", "outbound|9080||svc-00003", "outbound|9080||svc-00030"} {
			if err := readEnvelope(&rd, chunks(buf, rng, max), true, want, &env); err != nil {
				t.Fatal(err)
			}
			wantFound := want != "" && want != "outbound|9080||svc-00030"
			if env.typ != typeCDS || string(env.version) != "7" || string(env.nonce) != "abc" || env.resourceCount != 30 ||
				env.removedCount != 2 || env.hasWanted != wantFound {
				t.Fatalf("max %d want %q: got %+v", max, want, env)
			}
		}
	}
}

func TestReadEnvelopeTruncated(t *testing.T) {
	buf, _ := proto.Marshal(&discoveryv3.DiscoveryResponse{VersionInfo: "v", Resources: []*anypb.Any{anyCLA(t, "a")}})
	var rd chunkReader
	var env envelope
	if err := readEnvelope(&rd, mem.BufferSlice{mem.SliceBuffer(buf[:len(buf)-1])}, false, "", &env); err == nil {
		t.Fatal("no error for a truncated message")
	}
}

func TestAckEncoding(t *testing.T) {
	names := []string{"a", "b"}
	for _, d := range []bool{false, true} {
		delta = d
		req = makeRequests(names)
		m := outMsg{prefix: req.edsAck, tail: ackTail([]byte("v9"), []byte("nonce-1"))}
		bs, err := rawCodec{}.Marshal(&m)
		if err != nil {
			t.Fatal(err)
		}
		wire := bs.Materialize()
		if d {
			var got discoveryv3.DeltaDiscoveryRequest
			if err := proto.Unmarshal(wire, &got); err != nil {
				t.Fatal(err)
			}
			if got.GetTypeUrl() != edsTypeURL || got.GetResponseNonce() != "nonce-1" || len(got.GetResourceNamesSubscribe()) != 0 {
				t.Fatalf("delta ACK: %v", &got)
			}
		} else {
			var got discoveryv3.DiscoveryRequest
			if err := proto.Unmarshal(wire, &got); err != nil {
				t.Fatal(err)
			}
			if got.GetTypeUrl() != edsTypeURL || got.GetVersionInfo() != "v9" || got.GetResponseNonce() != "nonce-1" ||
				fmt.Sprint(got.GetResourceNames()) != fmt.Sprint(names) {
				t.Fatalf("SotW ACK: %v", &got)
			}
		}
		if p := bs[0].ReadOnlyData(); len(p) != len(req.edsAck) || &p[0] != &req.edsAck[0] {
			t.Fatal("the prefix was copied")
		}
	}
	delta = false
}
