package main

// Content check of an update on the verifying stream: the Go twin of verifyUpdate in ../load-client.ts.
// Off the hot path, so the last responses are decoded properly with the generated Envoy types.

import (
	"fmt"
	"strconv"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

const benchMetadataKey = "bench.xdskit.io"

// Update rules of ../workload.ts (portFor / weightFor).
func portFor(seq int) uint32 {
	if seq == 0 {
		return 9080
	}
	return uint32(20000 + seq%20000)
}

func weightFor(seq int) uint32 {
	if seq == 0 {
		return 1
	}
	return uint32(1 + seq%100)
}

// resourcesOf decodes a kept response and returns the encoded resources it carries.
func resourcesOf(buf []byte, delta bool) ([][]byte, error) {
	if buf == nil {
		return nil, nil
	}
	var out [][]byte
	if delta {
		var r discoveryv3.DeltaDiscoveryResponse
		if err := proto.Unmarshal(buf, &r); err != nil {
			return nil, err
		}
		for _, res := range r.GetResources() {
			out = append(out, res.GetResource().GetValue())
		}
		return out, nil
	}
	var r discoveryv3.DiscoveryResponse
	if err := proto.Unmarshal(buf, &r); err != nil {
		return nil, err
	}
	for _, res := range r.GetResources() {
		out = append(out, res.GetValue())
	}
	return out, nil
}

// verifyUpdate checks the last EDS (and for full-replace CDS) response of s against update a; "" when right.
func verifyUpdate(s *stream, a *armState, delta bool) string {
	eds, err := resourcesOf(s.last[typeEDS], delta)
	if err != nil {
		return fmt.Sprintf("seq %d: last EDS response: %v", a.seq, err)
	}
	clas := make([]*endpointv3.ClusterLoadAssignment, 0, len(eds))
	for _, b := range eds {
		c := &endpointv3.ClusterLoadAssignment{}
		if err := proto.Unmarshal(b, c); err != nil {
			return fmt.Sprintf("seq %d: ClusterLoadAssignment: %v", a.seq, err)
		}
		clas = append(clas, c)
	}
	wanted := a.target
	if a.kind != "one-endpoint" {
		wanted = ""
		if len(clas) > 0 {
			wanted = clas[0].GetClusterName()
		}
	}
	var cla *endpointv3.ClusterLoadAssignment
	for _, c := range clas {
		if c.GetClusterName() == wanted {
			cla = c
			break
		}
	}
	if cla == nil {
		if wanted == "" {
			wanted = "no ClusterLoadAssignment"
		}
		return fmt.Sprintf("seq %d: %s not in the last EDS response", a.seq, wanted)
	}
	lbs := cla.GetEndpoints()
	port, weight := "undefined", "undefined"
	ok := false
	if len(lbs) > 0 && len(lbs[0].GetLbEndpoints()) > 0 {
		lb := lbs[0].GetLbEndpoints()[0]
		sa := lb.GetEndpoint().GetAddress().GetSocketAddress()
		if sa != nil {
			port = strconv.FormatUint(uint64(sa.GetPortValue()), 10)
		}
		if w := lb.GetLoadBalancingWeight(); w != nil {
			weight = strconv.FormatUint(uint64(w.GetValue()), 10)
		}
		ok = sa != nil && sa.GetPortValue() == portFor(a.seq) && lb.GetLoadBalancingWeight() != nil &&
			lb.GetLoadBalancingWeight().GetValue() == weightFor(a.seq)
	}
	if !ok {
		return fmt.Sprintf("seq %d: %s has port %s weight %s, expected %d/%d", a.seq, wanted, port, weight, portFor(a.seq), weightFor(a.seq))
	}
	if a.kind == "full-replace" {
		cds, err := resourcesOf(s.last[typeCDS], delta)
		if err != nil {
			return fmt.Sprintf("seq %d: last CDS response: %v", a.seq, err)
		}
		name, rev := "undefined", "undefined"
		got := false
		if len(cds) > 0 {
			c := &clusterv3.Cluster{}
			if err := proto.Unmarshal(cds[0], c); err != nil {
				return fmt.Sprintf("seq %d: Cluster: %v", a.seq, err)
			}
			name = c.GetName()
			if v, has := c.GetMetadata().GetFilterMetadata()[benchMetadataKey].GetFields()["rev"]; has {
				if sv, isString := v.GetKind().(*structpb.Value_StringValue); isString {
					rev = sv.StringValue
					got = sv.StringValue == strconv.Itoa(a.seq)
				} else {
					rev = v.String()
				}
			}
		}
		if !got {
			return fmt.Sprintf("seq %d: cluster %s has revision %s", a.seq, name, rev)
		}
	}
	return ""
}
