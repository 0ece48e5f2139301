// Package oracle records what istiod itself generates and picks for a set of (config, proxy, request) cases,
// for xdskit's differential test against istiod (test/istiod-oracle.test.ts). It is a Go test only because
// Istio's fake discovery server and traffic simulation take a *testing.T; it is built with `go test -c` and
// run by test/istiod-oracle/record.ts, never in CI:
//
//	ISTIOD_ORACLE_CASES=cases.json ISTIOD_ORACLE_OUT=answers.raw.json istiod-oracle.test -test.run TestRecord
package oracle

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/encoding/protojson"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"istio.io/istio/pilot/pkg/config/kube/crd"
	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pilot/pkg/simulation"
	"istio.io/istio/pilot/test/xds"
	"istio.io/istio/pkg/config"
	kubelib "istio.io/istio/pkg/kube"
)

type proxySpec struct {
	Type      string            `json:"type"` // "sidecar" or "router"
	Namespace string            `json:"namespace"`
	Name      string            `json:"name"`
	IP        string            `json:"ip"`
	Labels    map[string]string `json:"labels"`
}

type requestSpec struct {
	Address string            `json:"address"`
	Port    int               `json:"port"`
	Host    string            `json:"host"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
	// A TLS connection (the SNI it sends) instead of plaintext HTTP.
	TLS *struct {
		Sni string `json:"sni"`
	} `json:"tls,omitempty"`
}

type caseSpec struct {
	Name       string        `json:"name"`
	Kubernetes string        `json:"kubernetes"` // Services, Pods, ... (YAML)
	Istio      string        `json:"istio"`      // networking.istio.io objects (YAML)
	Proxy      proxySpec     `json:"proxy"`
	Requests   []requestSpec `json:"requests"`
}

type requestAnswer struct {
	Error       string `json:"error,omitempty"`
	Listener    string `json:"listener,omitempty"`
	FilterChain string `json:"filterChain,omitempty"`
	RouteConfig string `json:"routeConfig,omitempty"`
	VirtualHost string `json:"virtualHost,omitempty"`
	// Cluster of a TCP proxy chain (HTTP routes are picked on the TypeScript side, see the package comment).
	TCPCluster string `json:"tcpCluster,omitempty"`
}

type caseAnswer struct {
	Name      string                     `json:"name"`
	Error     string                     `json:"error,omitempty"`
	Listeners []string                   `json:"listeners"`
	Routes    []string                   `json:"routes"`
	Clusters  []string                   `json:"clusters"`
	Requests  []requestAnswer            `json:"requests"`
	RouteJSON map[string]json.RawMessage `json:"routeConfigurations"`
	// Each cluster's name and upstream transport (transport_socket, transport_socket_matches) as proto3 JSON;
	// record.ts keeps a summary of those the requests reach.
	ClusterTransports map[string]json.RawMessage `json:"clusterTransports"`
}

// A fixed creation time, so that "the oldest VirtualService wins" falls back to name, then namespace, as it
// does in xdskit when timestamps are equal.
var creation = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func parseIstio(t *testing.T, text string) []config.Config {
	if strings.TrimSpace(text) == "" {
		return nil
	}
	configs, _, err := crd.ParseInputs(text)
	if err != nil {
		t.Fatalf("parse istio config: %v", err)
	}
	for i := range configs {
		c := &configs[i]
		if c.Namespace == "" {
			c.Namespace = "default"
		}
		// istiod's CRD client sets the domain; without it short hosts (reviews) do not resolve.
		c.Domain = "cluster.local"
		if c.CreationTimestamp.IsZero() {
			c.CreationTimestamp = creation
		}
	}
	return configs
}

// parseKubernetes decodes the Kubernetes objects and applies what kubectl and the API server would, which
// Istio's fake client does not: the "default" namespace, a Pod's service account (`default`), and a Service
// port's targetPort defaulting to its port.
func parseKubernetes(t *testing.T, text string) []runtime.Object {
	decode := kubelib.IstioCodec.UniversalDeserializer().Decode
	var out []runtime.Object
	for _, doc := range strings.Split(text, "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		o, _, err := decode([]byte(doc), nil, nil)
		if err != nil {
			t.Fatalf("parse kubernetes object: %v", err)
		}
		if m, ok := o.(metav1.Object); ok && m.GetNamespace() == "" {
			m.SetNamespace("default")
		}
		// The API server's ServiceAccount admission gives every Pod one; istiod names the SANs of mTLS after it.
		if pod, ok := o.(*corev1.Pod); ok && pod.Spec.ServiceAccountName == "" {
			pod.Spec.ServiceAccountName = "default"
		}
		if svc, ok := o.(*corev1.Service); ok {
			for i := range svc.Spec.Ports {
				p := &svc.Spec.Ports[i]
				if p.TargetPort.IntVal == 0 && p.TargetPort.StrVal == "" {
					p.TargetPort = intstr.FromInt32(p.Port)
				}
			}
		}
		out = append(out, o)
	}
	return append(out, endpointSlices(out)...)
}

// endpointSlices are what Kubernetes' EndpointSlice controller would write for the Services and Pods (the
// fake runs no controllers): one slice per Service with a selector, holding its running Pods. Without them
// istiod knows no endpoints, so no service accounts and no SANs on mTLS clusters.
func endpointSlices(objects []runtime.Object) []runtime.Object {
	var pods []*corev1.Pod
	for _, o := range objects {
		if pod, ok := o.(*corev1.Pod); ok && pod.Status.PodIP != "" {
			pods = append(pods, pod)
		}
	}
	var out []runtime.Object
	for _, o := range objects {
		svc, ok := o.(*corev1.Service)
		if !ok || len(svc.Spec.Selector) == 0 {
			continue
		}
		var selected []*corev1.Pod
		for _, pod := range pods {
			if pod.Namespace == svc.Namespace && labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(pod.Labels)) {
				selected = append(selected, pod)
			}
		}
		if len(selected) == 0 {
			continue
		}
		slice := &discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{
				Name:      svc.Name + "-oracle",
				Namespace: svc.Namespace,
				Labels:    map[string]string{discoveryv1.LabelServiceName: svc.Name},
			},
			AddressType: discoveryv1.AddressTypeIPv4,
		}
		for _, pod := range selected {
			ready := true
			slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{
				Addresses:  []string{pod.Status.PodIP},
				Conditions: discoveryv1.EndpointConditions{Ready: &ready},
				TargetRef:  &corev1.ObjectReference{Kind: "Pod", Name: pod.Name, Namespace: pod.Namespace},
			})
		}
		for _, p := range svc.Spec.Ports {
			target := p.TargetPort.IntVal
			if p.TargetPort.Type == intstr.String {
				// A named target port: the container port of that name (of the first Pod, as one slice holds one mapping).
				target = 0
				for _, c := range selected[0].Spec.Containers {
					for _, cp := range c.Ports {
						if cp.Name == p.TargetPort.StrVal {
							target = cp.ContainerPort
						}
					}
				}
				if target == 0 {
					continue
				}
			}
			name, protocol := p.Name, p.Protocol
			if protocol == "" {
				protocol = corev1.ProtocolTCP
			}
			slice.Ports = append(slice.Ports, discoveryv1.EndpointPort{Name: &name, Port: &target, Protocol: &protocol})
		}
		out = append(out, slice)
	}
	return out
}

func record(t *testing.T, c caseSpec) caseAnswer {
	answer := caseAnswer{Name: c.Name, RouteJSON: map[string]json.RawMessage{}, ClusterTransports: map[string]json.RawMessage{}}
	s := xds.NewFakeDiscoveryServer(t, xds.FakeOptions{
		KubernetesObjects: parseKubernetes(t, c.Kubernetes),
		Configs:           parseIstio(t, c.Istio),
	})
	proxy := &model.Proxy{
		ID:              c.Proxy.Name + "." + c.Proxy.Namespace,
		IPAddresses:     []string{c.Proxy.IP},
		Labels:          c.Proxy.Labels,
		ConfigNamespace: c.Proxy.Namespace,
		Metadata:        &model.NodeMetadata{Namespace: c.Proxy.Namespace, Labels: c.Proxy.Labels},
	}
	mode := simulation.CallModeOutbound
	if c.Proxy.Type == "router" {
		proxy.Type = model.Router
		mode = simulation.CallModeGateway
	}
	sim := simulation.NewSimulation(t, s, s.SetupProxy(proxy))
	for _, l := range sim.Listeners {
		answer.Listeners = append(answer.Listeners, l.Name)
	}
	byName := map[string]*route.RouteConfiguration{}
	for _, r := range sim.Routes {
		answer.Routes = append(answer.Routes, r.Name)
		byName[r.Name] = r
	}
	marshal := protojson.MarshalOptions{UseProtoNames: true}
	for _, cl := range sim.Clusters {
		answer.Clusters = append(answer.Clusters, cl.Name)
		transport := &cluster.Cluster{
			Name:                   cl.Name,
			TransportSocket:        cl.TransportSocket,
			TransportSocketMatches: cl.TransportSocketMatches,
		}
		text, err := marshal.Marshal(transport)
		if err != nil {
			t.Fatalf("marshal cluster %s: %v", cl.Name, err)
		}
		answer.ClusterTransports[cl.Name] = text
	}
	sort.Strings(answer.Listeners)
	sort.Strings(answer.Routes)
	sort.Strings(answer.Clusters)
	for _, req := range c.Requests {
		headers := http.Header{}
		for k, v := range req.Headers {
			headers.Set(k, v)
		}
		call := simulation.Call{
			Address:    req.Address,
			Port:       req.Port,
			Path:       req.Path,
			Protocol:   simulation.HTTP,
			HostHeader: req.Host,
			Headers:    headers,
			CallMode:   mode,
		}
		if req.TLS != nil {
			// Opaque TLS: a client that starts a TLS handshake with this SNI (the proxy does not terminate it).
			call.Protocol = simulation.TCP
			call.TLS = simulation.TLS
			call.Sni = req.TLS.Sni
		}
		result := sim.Run(call)
		got := requestAnswer{
			Listener:    result.ListenerMatched,
			FilterChain: result.FilterChainMatched,
			RouteConfig: result.RouteConfigMatched,
			VirtualHost: result.VirtualHostMatched,
		}
		// Istio's simulation picks routes by path alone; a "no route" error is decided on the TS side.
		if result.Error != nil && result.Error != simulation.ErrNoRoute {
			got.Error = result.Error.Error()
		}
		if result.RouteConfigMatched == "" && result.ClusterMatched != "" {
			got.TCPCluster = result.ClusterMatched
		}
		if rc := byName[result.RouteConfigMatched]; rc != nil {
			if _, done := answer.RouteJSON[rc.Name]; !done {
				text, err := marshal.Marshal(rc)
				if err != nil {
					t.Fatalf("marshal route configuration %s: %v", rc.Name, err)
				}
				answer.RouteJSON[rc.Name] = text
			}
		}
		answer.Requests = append(answer.Requests, got)
	}
	return answer
}

func TestRecord(t *testing.T) {
	in, out := os.Getenv("ISTIOD_ORACLE_CASES"), os.Getenv("ISTIOD_ORACLE_OUT")
	if in == "" || out == "" {
		t.Skip("set ISTIOD_ORACLE_CASES and ISTIOD_ORACLE_OUT (see test/istiod-oracle/record.ts)")
	}
	text, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	var cases []caseSpec
	if err := json.Unmarshal(text, &cases); err != nil {
		t.Fatal(err)
	}
	answers := make([]caseAnswer, len(cases))
	for i, c := range cases {
		ok := t.Run(fmt.Sprintf("%03d", i), func(t *testing.T) { answers[i] = record(t, c) })
		if !ok {
			// A case istiod's fake cannot build is recorded as such rather than stopping the run.
			answers[i] = caseAnswer{Name: c.Name, Error: "istiod fake failed (see the test log)"}
		}
	}
	data, err := json.Marshal(answers)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
