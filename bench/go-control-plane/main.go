// Command gcp-server is the go-control-plane peer of the xdskit fan-out benchmark: an ADS server
// (SotW and delta) built from go-control-plane's SnapshotCache and server/v3, driven by the same
// loopback HTTP control protocol as the TypeScript servers in ../servers:
//
//	POST /load   {"workload": "<file>"}                              one snapshot for every node
//	POST /update {"kind": "one-endpoint"|"full-replace", "seq": N}    apply update rule N
//	GET  /acked?seq=N&streams=S&timeoutMs=T                          when S streams had ACKed update N
//	GET  /stats                                                       CPU, RSS, heap after GC, bytes sent
//
// The workload file is written by ../workload.ts (format described there); the update rules below
// mirror applyUpdate() in ../workload.ts so both sides serve the same resources.
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const (
	workloadMagic    = "XBW1"
	benchMetadataKey = "bench.xdskit.io"
	// Every node maps to this one snapshot key.
	snapshotKey = "all"
)

// allNodes hashes every node to one snapshot key.
type allNodes struct{}

func (allNodes) ID(*corev3.Node) string { return snapshotKey }

// byteCounter counts the payload bytes of every message the gRPC server writes.
type byteCounter struct{ sent atomic.Int64 }

func (b *byteCounter) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (b *byteCounter) HandleRPC(_ context.Context, s stats.RPCStats) {
	if p, ok := s.(*stats.OutPayload); ok {
		b.sent.Add(int64(p.Length))
	}
}
func (b *byteCounter) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (b *byteCounter) HandleConn(context.Context, stats.ConnStats)                       {}

type state struct {
	mu             sync.Mutex
	cache          cachev3.SnapshotCache
	acks           *ackCounter
	clusters       []*clusterv3.Cluster
	endpoints      []*endpointv3.ClusterLoadAssignment
	clusterVersion string
	endpointVer    string
}

func readWorkload(file string) ([]*clusterv3.Cluster, []*endpointv3.ClusterLoadAssignment, error) {
	buf, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, err
	}
	if len(buf) < 8 || string(buf[:4]) != workloadMagic {
		return nil, nil, fmt.Errorf("%s: not a workload file", file)
	}
	headerLen := int(binary.LittleEndian.Uint32(buf[4:8]))
	var header struct {
		R int `json:"r"`
	}
	if err := json.Unmarshal(buf[8:8+headerLen], &header); err != nil {
		return nil, nil, fmt.Errorf("%s: header: %w", file, err)
	}
	var clusters []*clusterv3.Cluster
	var endpoints []*endpointv3.ClusterLoadAssignment
	for pos := 8 + headerLen; pos < len(buf); {
		n := int(binary.LittleEndian.Uint32(buf[pos : pos+4]))
		var any anypb.Any
		if err := proto.Unmarshal(buf[pos+4:pos+4+n], &any); err != nil {
			return nil, nil, err
		}
		pos += 4 + n
		switch any.TypeUrl {
		case resourcev3.ClusterType:
			c := &clusterv3.Cluster{}
			if err := proto.Unmarshal(any.Value, c); err != nil {
				return nil, nil, err
			}
			clusters = append(clusters, c)
		case resourcev3.EndpointType:
			e := &endpointv3.ClusterLoadAssignment{}
			if err := proto.Unmarshal(any.Value, e); err != nil {
				return nil, nil, err
			}
			endpoints = append(endpoints, e)
		default:
			return nil, nil, fmt.Errorf("%s: unexpected type %s", file, any.TypeUrl)
		}
	}
	if len(clusters) != header.R || len(endpoints) != header.R {
		return nil, nil, fmt.Errorf("%s: %d clusters, %d endpoints, expected %d", file, len(clusters), len(endpoints), header.R)
	}
	return clusters, endpoints, nil
}

// ---- update rules: keep in step with applyUpdate() in ../workload.ts ----

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

func withEndpointRevision(c *endpointv3.ClusterLoadAssignment, seq int) *endpointv3.ClusterLoadAssignment {
	cp := proto.Clone(c).(*endpointv3.ClusterLoadAssignment)
	lb := cp.GetEndpoints()[0].GetLbEndpoints()[0]
	lb.GetEndpoint().GetAddress().GetSocketAddress().PortSpecifier = &corev3.SocketAddress_PortValue{PortValue: portFor(seq)}
	lb.LoadBalancingWeight = wrapperspb.UInt32(weightFor(seq))
	return cp
}

func withClusterRevision(c *clusterv3.Cluster, seq int) *clusterv3.Cluster {
	cp := proto.Clone(c).(*clusterv3.Cluster)
	cp.Metadata.FilterMetadata[benchMetadataKey] = &structpb.Struct{
		Fields: map[string]*structpb.Value{"rev": structpb.NewStringValue(strconv.Itoa(seq))},
	}
	return cp
}

// publish builds a snapshot with one version per type and sets it for every node.
func (s *state) publish(ctx context.Context) error {
	clusters := make([]types.Resource, len(s.clusters))
	for i, c := range s.clusters {
		clusters[i] = c
	}
	endpoints := make([]types.Resource, len(s.endpoints))
	for i, e := range s.endpoints {
		endpoints[i] = e
	}
	snap := &cachev3.Snapshot{}
	snap.Resources[types.Cluster] = cachev3.NewResources(s.clusterVersion, clusters)
	snap.Resources[types.Endpoint] = cachev3.NewResources(s.endpointVer, endpoints)
	return s.cache.SetSnapshot(ctx, snapshotKey, snap)
}

func (s *state) load(ctx context.Context, file string) (string, error) {
	clusters, endpoints, err := readWorkload(file)
	if err != nil {
		return "", err
	}
	s.clusters, s.endpoints, s.clusterVersion, s.endpointVer = clusters, endpoints, "0", "0"
	s.acks.expect(0, map[string]string{resourcev3.ClusterType: "0", resourcev3.EndpointType: "0"}) // GET /acked?seq=0
	return "0", s.publish(ctx)
}

func (s *state) update(ctx context.Context, kind string, seq int) (string, error) {
	if s.endpoints == nil {
		return "", errors.New("POST /load first")
	}
	v := strconv.Itoa(seq)
	// Registered before the snapshot is set, so no ACK of the new versions can come first. The
	// versions are the seq, as in every response of this cache (SotW version_info, delta system_version_info).
	switch kind {
	case "one-endpoint":
		s.acks.expect(seq, map[string]string{resourcev3.EndpointType: v})
	case "full-replace":
		s.acks.expect(seq, map[string]string{resourcev3.ClusterType: v, resourcev3.EndpointType: v})
	}
	switch kind {
	case "one-endpoint":
		idx := seq % len(s.endpoints)
		next := make([]*endpointv3.ClusterLoadAssignment, len(s.endpoints))
		copy(next, s.endpoints)
		next[idx] = withEndpointRevision(s.endpoints[idx], seq)
		s.endpoints, s.endpointVer = next, v
	case "full-replace":
		clusters := make([]*clusterv3.Cluster, len(s.clusters))
		for i, c := range s.clusters {
			clusters[i] = withClusterRevision(c, seq)
		}
		endpoints := make([]*endpointv3.ClusterLoadAssignment, len(s.endpoints))
		for i, e := range s.endpoints {
			endpoints[i] = withEndpointRevision(e, seq)
		}
		s.clusters, s.endpoints, s.clusterVersion, s.endpointVer = clusters, endpoints, v, v
	default:
		return "", fmt.Errorf("unknown kind %q", kind)
	}
	return v, s.publish(ctx)
}

func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

func gcpVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, d := range info.Deps {
			if d.Path == "github.com/envoyproxy/go-control-plane" {
				return d.Version
			}
		}
	}
	return "unknown"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("content-type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func main() {
	controlPort := flag.Int("control-port", 0, "loopback port of the HTTP control endpoint")
	adsPort := flag.Int("ads-port", 0, "loopback port of the ADS gRPC server")
	gomaxprocs := flag.Int("gomaxprocs", 0, "GOMAXPROCS; 0 = Go's default (every core), as a Go user runs it")
	ads := flag.Bool("ads", true, "go-control-plane SnapshotCache ADS mode (ordered responses, names must cover the snapshot)")
	countBytes := flag.Bool("count-bytes", true, "count payload bytes sent with a grpc stats handler")
	parentPid := flag.Int("parent-pid", 0, "exit once this process (the runner) is gone")
	flag.Parse()
	if *controlPort == 0 || *adsPort == 0 {
		log.Fatal("--control-port and --ads-port are required")
	}
	if *gomaxprocs > 0 {
		runtime.GOMAXPROCS(*gomaxprocs)
	}
	if *parentPid > 0 {
		go exitWithParent(*parentPid)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	acks := newAckCounter()
	st := &state{cache: cachev3.NewSnapshotCache(*ads, allNodes{}, nil), acks: acks}
	counter := &byteCounter{}
	opts := []grpc.ServerOption{
		grpc.MaxConcurrentStreams(1 << 20),
		grpc.MaxRecvMsgSize(64 << 20),
	}
	if *countBytes {
		opts = append(opts, grpc.StatsHandler(counter))
	}
	grpcServer := grpc.NewServer(opts...)
	discoverygrpc.RegisterAggregatedDiscoveryServiceServer(grpcServer, serverv3.NewServer(ctx, st.cache, acks.callbacks()))
	lis, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *adsPort))
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = grpcServer.Serve(lis) }()

	mux := http.NewServeMux()
	mux.HandleFunc("POST /load", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Workload string `json:"workload"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			writeJSON(w, 400, map[string]string{"error": err.Error()})
			return
		}
		st.mu.Lock()
		defer st.mu.Unlock()
		v, err := st.load(ctx, body.Workload)
		if err != nil {
			writeJSON(w, 500, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, 200, map[string]string{"version": v})
	})
	mux.HandleFunc("POST /update", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Kind string `json:"kind"`
			Seq  int    `json:"seq"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			writeJSON(w, 400, map[string]string{"error": err.Error()})
			return
		}
		st.mu.Lock()
		defer st.mu.Unlock()
		v, err := st.update(ctx, body.Kind, body.Seq)
		if err != nil {
			writeJSON(w, 500, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, 200, map[string]string{"version": v})
	})
	mux.HandleFunc("GET /acked", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		seq, err1 := strconv.Atoi(q.Get("seq"))
		streams, err2 := strconv.Atoi(q.Get("streams"))
		timeoutMs := 60_000.0
		var err3 error
		if t := q.Get("timeoutMs"); t != "" {
			timeoutMs, err3 = strconv.ParseFloat(t, 64)
		}
		if err := errors.Join(err1, err2, err3); err != nil || timeoutMs <= 0 {
			writeJSON(w, 400, map[string]string{"error": fmt.Sprintf("bad query %q: needs integer seq and streams, optional timeoutMs > 0", r.URL.RawQuery)})
			return
		}
		answer, err := acks.wait(r.Context(), seq, streams, time.Duration(timeoutMs*float64(time.Millisecond)))
		if err != nil {
			writeJSON(w, 504, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, 200, answer)
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		// CPU before and after the forced GC below, so that it is billed to no measured interval.
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		// Twice: the first GC only moves sync.Pool contents (grpc-go's pooled message buffers, up to
		// 1 MiB each) to the victim cache; the second frees them. Node's gc() is also called twice.
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		var after syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
		seconds := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
		out := map[string]any{
			"cpuUserSec":    seconds(ru.Utime),
			"cpuSystemSec":  seconds(ru.Stime),
			"cpuAfterGcSec": seconds(after.Utime) + seconds(after.Stime),
			"rssBytes":      rssBytes(),
			"peakRssBytes":  ru.Maxrss * 1024,
			"heapUsedBytes": ms.HeapAlloc,
			"info": map[string]any{
				"runtime":        runtime.Version(),
				"goControlPlane": gcpVersion(),
				"gomaxprocs":     runtime.GOMAXPROCS(0),
				"goroutines":     runtime.NumGoroutine(),
				"adsMode":        strconv.FormatBool(*ads),
				"heapSysBytes":   ms.HeapSys,
				"sysBytes":       ms.Sys,
			},
		}
		if *countBytes {
			out["bytesSent"] = counter.sent.Load()
		}
		writeJSON(w, 200, out)
	})
	// A heap profile for `go tool pprof` (inspecting what the heap-after-GC figure consists of).
	mux.HandleFunc("GET /debug/heap", func(w http.ResponseWriter, r *http.Request) {
		runtime.GC()
		runtime.GC()
		w.Header().Set("content-type", "application/octet-stream")
		_ = pprof.Lookup("heap").WriteTo(w, 0)
	})
	httpLis, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *controlPort))
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = http.Serve(httpLis, mux) }()

	fmt.Printf("READY control=%d ads=%d gomaxprocs=%d go-control-plane=%s\n", *controlPort, *adsPort, runtime.GOMAXPROCS(0), gcpVersion())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	grpcServer.Stop()
}

// exitWithParent exits once process pid (the runner) is gone, even if it was killed with SIGKILL;
// signal 0 only checks that the process exists.
func exitWithParent(pid int) {
	for range time.Tick(time.Second) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			log.Printf("runner (pid %d) is gone: exiting", pid)
			os.Exit(0)
		}
	}
}
