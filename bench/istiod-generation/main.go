// Command istiod-generation times istiod's own xDS generation on the mesh bench/translate.ts generates, so that
// xdskit's translation can be compared with istiod's on the same input (`npm run bench:translate -- --istiod`,
// bench/translate-istiod.ts, runs both). It drives istiod's fake discovery server (pilot/test/xds: the real
// DiscoveryServer, PushContext and generators over fake Kubernetes clients and an in-memory config store) and
// calls the generators the way a push does, without gRPC streams:
//
//	istiod-generation --input=mesh.json [--cache=on|off] [--proxies=0]
//
// The input's changes set the trials. It prints one JSON object on stdout (figures in ms; CPU is this process's
// user+system time, every thread).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
	"time"

	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kuberuntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	networking "istio.io/api/networking/v1alpha3"
	"istio.io/istio/pilot/pkg/config/kube/crd"
	"istio.io/istio/pilot/pkg/features"
	"istio.io/istio/pilot/pkg/model"
	v3 "istio.io/istio/pilot/pkg/xds/v3"
	"istio.io/istio/pilot/test/xds"
	"istio.io/istio/pilot/test/xdstest"
	"istio.io/istio/pkg/config"
	"istio.io/istio/pkg/config/constants"
	"istio.io/istio/pkg/config/schema/kind"
	kubelib "istio.io/istio/pkg/kube"
	istiolog "istio.io/istio/pkg/log"
	"istio.io/istio/pkg/util/sets"
)

// Input is what bench/translate-istiod.ts writes: the same YAML bench/translate.ts loads, and its changes.
type Input struct {
	Mesh string `json:"mesh"`
	// One VirtualService (YAML) per trial, replacing the mesh's object of the same name.
	VirtualServiceChanges []string `json:"virtualServiceChanges"`
	// One new Pod (YAML) per trial; it joins the EndpointSlice of every Service selecting it.
	PodAdds []string `json:"podAdds"`
}

type timing struct {
	WallMs float64 `json:"wallMs"`
	CPUMs  float64 `json:"cpuMs"`
}

// coldResult is scaled to every sidecar when a sample was measured, except MeasuredCPUMs, Resources and Bytes.
type coldResult struct {
	timing
	InitCPUMs     float64        `json:"initCpuMs"`
	GenerateCPUMs float64        `json:"generateCpuMs"`
	MeasuredCPUMs float64        `json:"measuredCpuMs"`
	Resources     map[string]int `json:"resources"`
	Bytes         int            `json:"bytes"`
}

type changeResult struct {
	timing
	// From the store or Kubernetes update until istiod's debounced push built the new PushContext.
	Intake timing `json:"intake"`
	// Proxy state, ProxyNeedsPush and the generators for every measured proxy (scaled when sampled).
	Generate timing `json:"generate"`
	// Proxies that got at least one resource, and the resources generated (scaled when sampled).
	ProxiesPushed int            `json:"proxiesPushed"`
	Resources     map[string]int `json:"resources"`
}

type output struct {
	Istio           string         `json:"istio"`
	Cache           bool           `json:"cache"`
	GoMaxProcs      int            `json:"gomaxprocs"`
	Services        int            `json:"services"`
	Sidecars        int            `json:"sidecars"`
	MeasuredProxies int            `json:"measuredProxies"`
	Scale           float64        `json:"scale"`
	Start           timing         `json:"start"`
	PushContext     timing         `json:"pushContext"`
	Cold            coldResult     `json:"cold"`
	VirtualService  []changeResult `json:"virtualServiceChanges"`
	Endpoint        []changeResult `json:"endpointChanges"`
}

// failer stands in for *testing.T: the fake discovery server wants one.
type failer struct{ cleanups []func() }

func (f *failer) Fail()                     { f.FailNow() }
func (f *failer) FailNow()                  { fmt.Fprintln(os.Stderr, "istiod-generation: failed"); os.Exit(1) }
func (f *failer) Fatal(args ...any)         { fmt.Fprintln(os.Stderr, args...); os.Exit(1) }
func (f *failer) Fatalf(s string, a ...any) { fmt.Fprintf(os.Stderr, s+"\n", a...); os.Exit(1) }
func (f *failer) Log(args ...any)           {}
func (f *failer) Logf(string, ...any)       {}
func (f *failer) TempDir() string           { d, _ := os.MkdirTemp("", "istiod-generation"); return d }
func (f *failer) Helper()                   {}
func (f *failer) Cleanup(fn func())         { f.cleanups = append(f.cleanups, fn) }
func (f *failer) Skip(args ...any)          { f.Fatal(args...) }
func (f *failer) close() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type stopwatch struct {
	wall time.Time
	cpu  time.Duration
}

func start() stopwatch { return stopwatch{time.Now(), cpuNow()} }
func (s stopwatch) stop() timing {
	return timing{WallMs: ms(time.Since(s.wall)), CPUMs: ms(cpuNow() - s.cpu)}
}
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func die(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "istiod-generation: "+format+"\n", args...)
	os.Exit(1)
}

// A fixed creation time, as in test/istiod-oracle: the oldest-wins rules then fall back to names.
var creation = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func parseIstio(text string) []config.Config {
	configs, _, err := crd.ParseInputs(text)
	if err != nil {
		die("parse Istio config: %v", err)
	}
	for i := range configs {
		c := &configs[i]
		if c.Namespace == "" {
			c.Namespace = "default"
		}
		// istiod's CRD client sets the domain; without it short hosts (svc-3) do not resolve.
		c.Domain = "cluster.local"
		c.CreationTimestamp = creation
	}
	return configs
}

// parseKubernetes decodes Services and Pods, with what the API server and the kubelet would add and the fake
// client does not: a Service port's targetPort defaulting to its port, and a Pod with an IP running and ready.
func parseKubernetes(text string) (services []*corev1.Service, pods []*corev1.Pod) {
	decode := kubelib.IstioCodec.UniversalDeserializer().Decode
	for _, doc := range strings.Split(text, "\n---\n") {
		if !strings.Contains(doc, "apiVersion: v1\n") {
			continue
		}
		o, _, err := decode([]byte(doc), nil, nil)
		if err != nil {
			die("parse Kubernetes object: %v\n%s", err, doc)
		}
		switch v := o.(type) {
		case *corev1.Service:
			for i := range v.Spec.Ports {
				p := &v.Spec.Ports[i]
				if p.TargetPort.IntVal == 0 && p.TargetPort.StrVal == "" {
					p.TargetPort = intstr.FromInt32(p.Port)
				}
				if p.Protocol == "" {
					p.Protocol = corev1.ProtocolTCP
				}
			}
			services = append(services, v)
		case *corev1.Pod:
			pods = append(pods, runningPod(v))
		default:
			die("unexpected Kubernetes kind %T", o)
		}
	}
	return services, pods
}

func runningPod(p *corev1.Pod) *corev1.Pod {
	if p.Status.Phase == "" {
		p.Status.Phase = corev1.PodRunning
	}
	if p.Spec.ServiceAccountName == "" {
		p.Spec.ServiceAccountName = "default"
	}
	if len(p.Status.PodIPs) == 0 && p.Status.PodIP != "" {
		p.Status.PodIPs = []corev1.PodIP{{IP: p.Status.PodIP}}
	}
	if len(p.Status.Conditions) == 0 {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	}
	return p
}

func selects(svc *corev1.Service, pod *corev1.Pod) bool {
	if pod.Namespace != svc.Namespace || len(svc.Spec.Selector) == 0 {
		return false
	}
	for k, v := range svc.Spec.Selector {
		if pod.Labels[k] != v {
			return false
		}
	}
	return true
}

// endpointSlice is what Kubernetes' EndpointSlice controller makes of a Service and the Pods it selects
// (istiod reads endpoints from EndpointSlices, not from Pods).
func endpointSlice(svc *corev1.Service, pods []*corev1.Pod) *discoveryv1.EndpointSlice {
	ready := true
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name:      svc.Name + "-bench",
			Namespace: svc.Namespace,
			Labels: map[string]string{
				discoveryv1.LabelServiceName: svc.Name,
				discoveryv1.LabelManagedBy:   "endpointslice-controller.k8s.io",
			},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	for _, port := range svc.Spec.Ports {
		name, number, protocol := port.Name, port.TargetPort.IntVal, port.Protocol
		slice.Ports = append(slice.Ports, discoveryv1.EndpointPort{Name: &name, Port: &number, Protocol: &protocol})
	}
	for _, pod := range pods {
		if !selects(svc, pod) {
			continue
		}
		slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{pod.Status.PodIP},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Name: pod.Name, Namespace: pod.Namespace},
		})
	}
	return slice
}

// watched are the resource names an Envoy subscribes to after CDS and LDS (EDS: the EDS clusters; RDS:
// the route configurations the listeners name), per namespace: without Sidecar resources every proxy of a
// namespace sees the same outbound clusters and routes.
type watched map[string]*model.WatchedResource

var pushOrder = []string{v3.ClusterType, v3.EndpointType, v3.ListenerType, v3.RouteType}

func main() {
	inputPath := flag.String("input", "", "JSON written by bench/translate-istiod.ts")
	cacheFlag := flag.String("cache", "on", "istiod's xDS cache: on or off")
	proxiesFlag := flag.Int("proxies", 0, "measure this many sidecars, evenly spread, and scale to all (0 = all)")
	flag.Parse()
	if *inputPath == "" {
		die("--input is required")
	}
	raw, err := os.ReadFile(*inputPath)
	if err != nil {
		die("%v", err)
	}
	var in Input
	if err := json.Unmarshal(raw, &in); err != nil {
		die("read %s: %v", *inputPath, err)
	}
	for _, s := range istiolog.Scopes() {
		s.SetOutputLevel(istiolog.NoneLevel)
	}
	switch *cacheFlag {
	case "on":
		features.EnableXDSCaching = true
	case "off":
		features.EnableXDSCaching = false
	default:
		die("--cache must be on or off")
	}

	services, pods := parseKubernetes(in.Mesh)
	configs := parseIstio(in.Mesh)
	var objects []kuberuntime.Object
	for _, svc := range services {
		objects = append(objects, svc, endpointSlice(svc, pods))
	}
	for _, pod := range pods {
		objects = append(objects, pod)
	}

	t := &failer{}
	defer t.close()
	out := output{Istio: istioVersion(), Cache: features.EnableXDSCaching, GoMaxProcs: runtime.GOMAXPROCS(0),
		Services: len(services), Sidecars: len(pods)}
	startup := start()
	s := xds.NewFakeDiscoveryServer(t, xds.FakeOptions{KubernetesObjects: objects, Configs: configs})
	out.Start = startup.stop()

	// A full PushContext, as istiod builds on a global (forced) push: its counterpart of xdskit's index.
	before := s.PushContext()
	full := start()
	s.Discovery.ConfigUpdate(&model.PushRequest{Forced: true, Reason: model.NewReasonStats(model.GlobalUpdate)})
	waitForPush(s, before, func() bool { return true })
	out.PushContext = full.stop()

	// The measured sidecars: all, or every k-th (which keeps every namespace in the sample).
	measured := pods
	if n := *proxiesFlag; n > 0 && n < len(pods) {
		measured = nil
		step := float64(len(pods)) / float64(n)
		for i := 0; i < n; i++ {
			measured = append(measured, pods[int(float64(i)*step)])
		}
	}
	out.MeasuredProxies = len(measured)
	out.Scale = float64(len(pods)) / float64(len(measured))

	names := subscriptions(s, pods)
	s.Discovery.Cache.ClearAll()
	runtime.GC()

	// Cold: every proxy connects and gets CDS, EDS, LDS and RDS from the same PushContext, as on an istiod start.
	proxies := make([]*model.Proxy, len(measured))
	cold := coldResult{Resources: map[string]int{}}
	var initCPU, genCPU time.Duration
	coldWatch := start()
	for i, pod := range measured {
		c0 := cpuNow()
		proxies[i] = s.SetupProxy(newProxy(pod))
		c1 := cpuNow()
		req := &model.PushRequest{
			Push: s.PushContext(), Start: time.Now(), Forced: true, Reason: model.NewReasonStats(model.ProxyRequest),
		}
		for _, typeURL := range pushOrder {
			res, _, err := s.Discovery.Generators[typeURL].Generate(proxies[i], names[pod.Namespace][typeURL], req)
			if err != nil {
				die("generate %s for %s: %v", typeURL, proxies[i].ID, err)
			}
			cold.Resources[shortType(typeURL)] += len(res)
			for _, r := range res {
				cold.Bytes += len(r.Resource.Value)
			}
		}
		initCPU += c1 - c0
		genCPU += cpuNow() - c1
	}
	measuredCold := coldWatch.stop()
	cold.MeasuredCPUMs = measuredCold.CPUMs
	cold.timing = timing{WallMs: measuredCold.WallMs * out.Scale, CPUMs: measuredCold.CPUMs * out.Scale}
	cold.InitCPUMs, cold.GenerateCPUMs = ms(initCPU)*out.Scale, ms(genCPU)*out.Scale
	out.Cold = cold

	// Changes, each until the proxies istiod would push to have their new resources.
	for trial := range len(in.VirtualServiceChanges) {
		vs := parseIstio(in.VirtualServiceChanges[trial])
		if len(vs) != 1 || vs[0].GroupVersionKind.Kind != "VirtualService" {
			die("virtualServiceChanges[%d]: want one VirtualService", trial)
		}
		change := vs[0]
		key := model.ConfigKey{Kind: kind.VirtualService, Name: change.Name, Namespace: change.Namespace}
		before := s.PushContext()
		watch := start()
		existing := s.Store().Get(change.GroupVersionKind, change.Name, change.Namespace)
		if existing == nil {
			die("virtualServiceChanges[%d]: %s/%s is not in the mesh", trial, change.Namespace, change.Name)
		}
		change.ResourceVersion = existing.ResourceVersion
		revision, err := s.Store().Update(change)
		if err != nil {
			die("update %s/%s: %v", change.Namespace, change.Name, err)
		}
		waitForPush(s, before, func() bool { return pushed(s, change, revision) })
		result := push(s, proxies, names, measured, key, model.ConfigUpdate, watch, out.Scale)
		out.VirtualService = append(out.VirtualService, result)
		checkRoute(s, proxies[0], names[measured[0].Namespace], change)
	}
	for trial := range len(in.PodAdds) {
		_, added := parseKubernetes(in.PodAdds[trial])
		if len(added) != 1 {
			die("podAdds[%d]: want one Pod", trial)
		}
		pod := added[0]
		var svc *corev1.Service
		for _, candidate := range services {
			if selects(candidate, pod) {
				svc = candidate
			}
		}
		if svc == nil {
			die("podAdds[%d]: no Service selects %s/%s", trial, pod.Namespace, pod.Name)
		}
		hostname := svc.Name + "." + svc.Namespace + ".svc.cluster.local"
		key := model.ConfigKey{Kind: kind.Endpoints, Name: hostname, Namespace: svc.Namespace}
		pods = append(pods, pod)
		slice := endpointSlice(svc, pods)
		before := s.PushContext()
		watch := start()
		kube := s.KubeClient().Kube()
		if _, err := kube.CoreV1().Pods(pod.Namespace).Create(ctx(), pod, metav1.CreateOptions{}); err != nil {
			die("create pod: %v", err)
		}
		if _, err := kube.DiscoveryV1().EndpointSlices(svc.Namespace).Update(ctx(), slice, metav1.UpdateOptions{}); err != nil {
			die("update EndpointSlice: %v", err)
		}
		waitForPush(s, before, func() bool { return hasEndpoint(s, hostname, svc.Namespace, pod.Status.PodIP) })
		result := push(s, proxies, names, measured, key, model.EndpointUpdate, watch, out.Scale)
		out.Endpoint = append(out.Endpoint, result)
		checkEndpoint(s, proxies[0], names[measured[0].Namespace], key, pod.Status.PodIP)
	}

	text, _ := json.Marshal(out)
	fmt.Println(string(text))
}

func newProxy(pod *corev1.Pod) *model.Proxy {
	return &model.Proxy{
		Type:            model.SidecarProxy,
		ID:              pod.Name + "." + pod.Namespace,
		IPAddresses:     []string{pod.Status.PodIP},
		Labels:          pod.Labels,
		ConfigNamespace: pod.Namespace,
		DNSDomain:       pod.Namespace + ".svc.cluster.local",
		Metadata: &model.NodeMetadata{
			Namespace:    pod.Namespace,
			Labels:       pod.Labels,
			ClusterID:    constants.DefaultClusterName,
			IstioVersion: "1.30.0",
		},
	}
}

// subscriptions finds, per namespace, what a proxy there subscribes to after its CDS and LDS answers. It
// decodes istiod's output, so it runs once before the measured runs (which then start from an empty cache).
func subscriptions(s *xds.FakeDiscoveryServer, pods []*corev1.Pod) map[string]watched {
	out := map[string]watched{}
	for _, pod := range pods {
		if out[pod.Namespace] != nil {
			continue
		}
		proxy := s.SetupProxy(newProxy(pod))
		clusters := s.Clusters(proxy)
		listeners := s.Listeners(proxy)
		out[pod.Namespace] = watched{
			v3.ClusterType:  &model.WatchedResource{TypeUrl: v3.ClusterType, Wildcard: true},
			v3.ListenerType: &model.WatchedResource{TypeUrl: v3.ListenerType, Wildcard: true},
			v3.EndpointType: &model.WatchedResource{
				TypeUrl: v3.EndpointType, ResourceNames: sets.New(xdstest.ExtractEdsClusterNames(clusters)...),
			},
			v3.RouteType: &model.WatchedResource{
				TypeUrl: v3.RouteType, ResourceNames: sets.New(xdstest.ExtractRoutesFromListeners(listeners)...),
			},
		}
	}
	return out
}

// waitForPush waits until istiod's debounced push for a change built a new PushContext and nothing is pending.
func waitForPush(s *xds.FakeDiscoveryServer, before *model.PushContext, ready func() bool) {
	deadline := time.Now().Add(60 * time.Second)
	settled := 0
	for settled < 2 {
		if time.Now().After(deadline) {
			die("istiod did not push the change within 60 s")
		}
		time.Sleep(200 * time.Microsecond)
		d := s.Discovery
		if s.PushContext() != before && ready() && d.CommittedUpdates.Load() >= d.InboundUpdates.Load() {
			settled++
		} else {
			settled = 0
		}
	}
}

// push does what istiod's pushConnection does for each connected sidecar (SotW): refresh the proxy's state
// unless only endpoints changed, ask ProxyNeedsPush, then every generator in push order (each decides on
// its own whether the change concerns it; EDS regenerates only the affected clusters).
func push(s *xds.FakeDiscoveryServer, proxies []*model.Proxy, names map[string]watched, measured []*corev1.Pod,
	key model.ConfigKey, reason model.TriggerReason, watch stopwatch, scale float64,
) changeResult {
	result := changeResult{Intake: watch.stop(), Resources: map[string]int{}}
	generate := start()
	req := &model.PushRequest{
		ConfigsUpdated: sets.New(key), Reason: model.NewReasonStats(reason), Push: s.PushContext(), Start: time.Now(),
	}
	onlyEndpoints := model.OnlyHasConfigsOfKind(req.ConfigsUpdated, kind.Endpoints)
	pushed := 0
	for i, proxy := range proxies {
		if !onlyEndpoints {
			refreshProxyState(s, proxy, req)
		}
		proxyReq, needsPush := s.Discovery.ProxyNeedsPush(proxy, req)
		if !needsPush {
			continue
		}
		sent := false
		for _, typeURL := range pushOrder {
			res, _, err := s.Discovery.Generators[typeURL].Generate(proxy, names[measured[i].Namespace][typeURL], proxyReq)
			if err != nil {
				die("generate %s for %s: %v", typeURL, proxy.ID, err)
			}
			if res != nil {
				sent = true
				result.Resources[shortType(typeURL)] += len(res)
			}
		}
		if sent {
			pushed++
		}
	}
	gen := generate.stop()
	result.Generate = timing{WallMs: gen.WallMs * scale, CPUMs: gen.CPUMs * scale}
	result.ProxiesPushed = int(float64(pushed)*scale + 0.5)
	for k, v := range result.Resources {
		result.Resources[k] = int(float64(v)*scale + 0.5)
	}
	result.timing = timing{
		WallMs: result.Intake.WallMs + result.Generate.WallMs, CPUMs: result.Intake.CPUMs + result.Generate.CPUMs,
	}
	return result
}

// refreshProxyState is the part of istiod's computeProxyState (unexported) a config change runs for a sidecar.
func refreshProxyState(s *xds.FakeDiscoveryServer, proxy *model.Proxy, req *model.PushRequest) {
	if proxy.ShouldUpdateServiceTargets(req.ConfigsUpdated) {
		proxy.SetServiceTargets(s.Env().ServiceDiscovery)
	}
	for key := range req.ConfigsUpdated {
		switch key.Kind {
		case kind.ServiceEntry, kind.DestinationRule, kind.VirtualService, kind.PeerAuthentication, kind.Sidecar:
			proxy.SetSidecarScope(req.Push)
			return
		}
	}
}

// pushed tells whether istiod's current PushContext holds this revision of the VirtualService (its store
// notifies handlers asynchronously, so a new PushContext alone does not say the change is in it).
func pushed(s *xds.FakeDiscoveryServer, change config.Config, revision string) bool {
	for _, vs := range s.PushContext().VirtualServicesForGateway(change.Namespace, constants.IstioMeshGateway) {
		if vs.Name == change.Name && vs.Namespace == change.Namespace {
			return vs.ResourceVersion == revision
		}
	}
	return false
}

func hasEndpoint(s *xds.FakeDiscoveryServer, hostname, namespace, ip string) bool {
	shards, ok := s.Env().EndpointIndex.ShardsForService(hostname, namespace)
	if !ok {
		return false
	}
	shards.RLock()
	defer shards.RUnlock()
	for _, endpoints := range shards.Shards {
		for _, e := range endpoints {
			for _, address := range e.Addresses {
				if address == ip {
					return true
				}
			}
		}
	}
	return false
}

// checkRoute fails the run unless the proxy's route configurations carry the changed VirtualService's
// weights: what is timed must be a change istiod really made.
func checkRoute(s *xds.FakeDiscoveryServer, proxy *model.Proxy, names watched, change config.Config) {
	spec, ok := change.Spec.(*networking.VirtualService)
	if !ok || len(spec.Http) == 0 {
		die("virtual service %s/%s has no http routes", change.Namespace, change.Name)
	}
	var want []uint32
	for _, d := range spec.Http[len(spec.Http)-1].Route {
		want = append(want, uint32(d.Weight))
	}
	req := &model.PushRequest{Push: s.PushContext(), Start: time.Now(), Forced: true}
	res, _, _ := s.Discovery.Generators[v3.RouteType].Generate(proxy, names[v3.RouteType], req)
	host := fmt.Sprintf("%s.%s.svc.cluster.local:", change.Name, change.Namespace)
	for _, r := range res {
		rc := &route.RouteConfiguration{}
		if err := r.Resource.UnmarshalTo(rc); err != nil {
			die("decode route configuration: %v", err)
		}
		for _, vh := range rc.VirtualHosts {
			if !strings.HasPrefix(vh.Name, host) {
				continue
			}
			last := vh.Routes[len(vh.Routes)-1]
			var got []uint32
			for _, wc := range last.GetRoute().GetWeightedClusters().GetClusters() {
				got = append(got, wc.GetWeight().GetValue())
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				die("%s's route for %s has weights %v, the changed VirtualService %v", proxy.ID, vh.Name, got, want)
			}
			return
		}
	}
	die("no virtual host for %s in %s's routes", host, proxy.ID)
}

// checkEndpoint fails the run unless the proxy's EDS answer for the service carries the new Pod's address.
func checkEndpoint(s *xds.FakeDiscoveryServer, proxy *model.Proxy, names watched, key model.ConfigKey, ip string) {
	req := &model.PushRequest{Push: s.PushContext(), Start: time.Now(), Forced: true}
	res, _, _ := s.Discovery.Generators[v3.EndpointType].Generate(proxy, names[v3.EndpointType], req)
	var found []string
	for _, r := range res {
		if !strings.HasSuffix(r.Name, "|"+key.Name) {
			continue
		}
		cla := &endpoint.ClusterLoadAssignment{}
		if err := r.Resource.UnmarshalTo(cla); err != nil {
			die("decode ClusterLoadAssignment: %v", err)
		}
		for _, locality := range cla.Endpoints {
			for _, e := range locality.LbEndpoints {
				found = append(found, e.GetEndpoint().GetAddress().GetSocketAddress().GetAddress())
			}
		}
	}
	for _, address := range found {
		if address == ip {
			return
		}
	}
	sort.Strings(found)
	die("EDS for %s lacks the new endpoint %s (has %v)", key.Name, ip, found)
}

func shortType(typeURL string) string {
	return strings.ToLower(v3.GetShortType(typeURL))
}

func ctx() context.Context { return context.Background() }

// istioVersion is the istio.io/istio module version this binary was built with.
func istioVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, m := range info.Deps {
			if m.Path == "istio.io/istio" {
				return m.Version
			}
		}
	}
	return "unknown"
}
