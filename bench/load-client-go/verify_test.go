package main

import (
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func cla(name string, port, weight uint32) *endpointv3.ClusterLoadAssignment {
	addr := &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: "10.0.0.1", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
	}}}
	return &endpointv3.ClusterLoadAssignment{
		ClusterName: name,
		Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{{
			HostIdentifier:      &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: addr}},
			LoadBalancingWeight: wrapperspb.UInt32(weight),
		}}}},
	}
}

func cluster(name, rev string) *clusterv3.Cluster {
	return &clusterv3.Cluster{Name: name, Metadata: &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
		benchMetadataKey: {Fields: map[string]*structpb.Value{"rev": structpb.NewStringValue(rev)}},
	}}}
}

func response(t *testing.T, d bool, msgs ...proto.Message) []byte {
	t.Helper()
	var b []byte
	var err error
	if d {
		r := &discoveryv3.DeltaDiscoveryResponse{}
		for _, m := range msgs {
			a, _ := anypb.New(m)
			r.Resources = append(r.Resources, &discoveryv3.Resource{Resource: a})
		}
		b, err = proto.Marshal(r)
	} else {
		r := &discoveryv3.DiscoveryResponse{}
		for _, m := range msgs {
			a, _ := anypb.New(m)
			r.Resources = append(r.Resources, a)
		}
		b, err = proto.Marshal(r)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerifyUpdate(t *testing.T) {
	const seq = 7
	for _, d := range []bool{false, true} {
		one := &armState{seq: seq, kind: "one-endpoint", target: "b", oneEndpoint: true}
		full := &armState{seq: seq, kind: "full-replace", target: "b"}
		s := &stream{}
		s.last[typeEDS] = response(t, d, cla("a", 9080, 1), cla("b", portFor(seq), weightFor(seq)))
		if e := verifyUpdate(s, one, d); e != "" {
			t.Fatalf("delta=%v one-endpoint: %s", d, e)
		}
		s.last[typeEDS] = response(t, d, cla("b", portFor(seq), weightFor(seq)+1))
		if e := verifyUpdate(s, one, d); !strings.Contains(e, "b has port 20007 weight 9, expected 20007/8") {
			t.Fatalf("delta=%v wrong weight: %q", d, e)
		}
		s.last[typeEDS] = response(t, d, cla("a", portFor(seq), weightFor(seq)))
		if e := verifyUpdate(s, one, d); !strings.Contains(e, "b not in the last EDS response") {
			t.Fatalf("delta=%v missing: %q", d, e)
		}
		s.last[typeCDS] = response(t, d, cluster("a", "7"))
		if e := verifyUpdate(s, full, d); e != "" {
			t.Fatalf("delta=%v full-replace: %s", d, e)
		}
		s.last[typeCDS] = response(t, d, cluster("a", "6"))
		if e := verifyUpdate(s, full, d); !strings.Contains(e, "cluster a has revision 6") {
			t.Fatalf("delta=%v stale revision: %q", d, e)
		}
	}
}
