// Command load-client-go is one load-client process of the xdskit fan-out benchmark, the Go twin of
// ../load-client.ts: it opens its share of the ADS streams, ACKs everything, and reports to the runner
// (Node IPC, see ipc.go) when all its streams hold the initial config and, per update, when its last stream
// received it. Started by ../fanout.ts with child_process.spawn (stdio [..., "ipc"]); exits on "exit", when
// the IPC channel closes, on SIGTERM/SIGINT, or at its deadline, whichever comes first.
//
// Flags (as load-client.ts): --target=127.0.0.1:PORT --mode=sotw|delta --streams=N --offset=K --workload=FILE
// [--per-channel=100] [--deadline-ms=600000] [--client=0] [--verify=true]
//
// GOMAXPROCS is 1 unless the GOMAXPROCS environment variable says otherwise (the runner sets it).
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

const workloadMagic = "XBW1"

const (
	sotwMethod  = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"
	deltaMethod = "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources"
)

// ---- configuration ----

var (
	target      = flag.String("target", "", "ADS server, host:port")
	mode        = flag.String("mode", "sotw", "sotw or delta")
	streamCount = flag.Int("streams", 0, "streams this process opens")
	offset      = flag.Int("offset", 0, "index of this process's first stream (node id bench-node-<offset+i>)")
	workload    = flag.String("workload", "", "workload file (bench/.cache/workload-r<R>.bin)")
	perChannel  = flag.Int("per-channel", 100, "streams per HTTP/2 connection (one grpc.ClientConn each)")
	deadlineMs  = flag.Float64("deadline-ms", 600_000, "exit with an error after this long")
	clientIndex = flag.Int("client", 0, "index of this client process (for messages)")
	verify      = flag.Bool("verify", true, "the first stream checks the content of every update")
)

var (
	delta bool
	// r is the workload size: a stream holds the config once it has r clusters and r endpoints.
	r   int
	req requests
	ch  *ipcChannel
)

// nowMs is the wall clock in ms since the Unix epoch with a sub-ms fraction, like the runner's
// performance.timeOrigin + performance.now() (and the Go peer's ACK stamps).
func nowMs() float64 {
	t := time.Now()
	return float64(t.Unix())*1e3 + float64(t.Nanosecond())/1e6
}

func readWorkloadHeader(file string) (int, []string, error) {
	buf, err := os.ReadFile(file)
	if err != nil {
		return 0, nil, err
	}
	if len(buf) < 8 || string(buf[:4]) != workloadMagic {
		return 0, nil, fmt.Errorf("%s: not a workload file", file)
	}
	n := int(binary.LittleEndian.Uint32(buf[4:8]))
	if 8+n > len(buf) {
		return 0, nil, fmt.Errorf("%s: truncated header", file)
	}
	var h struct {
		R            int      `json:"r"`
		ClusterNames []string `json:"clusterNames"`
	}
	if err := json.Unmarshal(buf[8:8+n], &h); err != nil {
		return 0, nil, fmt.Errorf("%s: header: %w", file, err)
	}
	return h.R, h.ClusterNames, nil
}

// ---- pre-encoded requests: only version and nonce are appended per ACK ----

type requests struct {
	first        func(id string) []byte
	cdsAck       []byte
	edsSubscribe []byte
	// edsAck is the prefix of every EDS ACK; SotW: the whole subscription again, as Envoy sends it.
	edsAck []byte
}

func mustMarshal(m proto.Message) []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

func makeRequests(names []string) requests {
	node := func(id string) *corev3.Node { return &corev3.Node{Id: id, Cluster: "bench"} }
	if !delta {
		sub := mustMarshal(&discoveryv3.DiscoveryRequest{TypeUrl: edsTypeURL, ResourceNames: names})
		return requests{
			first: func(id string) []byte {
				return mustMarshal(&discoveryv3.DiscoveryRequest{Node: node(id), TypeUrl: cdsTypeURL})
			},
			cdsAck:       mustMarshal(&discoveryv3.DiscoveryRequest{TypeUrl: cdsTypeURL}),
			edsSubscribe: sub,
			edsAck:       sub, // read-only, shared by every stream's every EDS ACK
		}
	}
	return requests{
		// Legacy wildcard: a first CDS request without names.
		first: func(id string) []byte {
			return mustMarshal(&discoveryv3.DeltaDiscoveryRequest{Node: node(id), TypeUrl: cdsTypeURL})
		},
		cdsAck:       mustMarshal(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: cdsTypeURL}),
		edsSubscribe: mustMarshal(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: edsTypeURL, ResourceNamesSubscribe: names}),
		edsAck:       mustMarshal(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: edsTypeURL}),
	}
}

// ackTail encodes what follows the prefix of an ACK: SotW version_info (1) and response_nonce (5), delta
// response_nonce (6). Written even when empty, like load-client.ts.
func ackTail(version, nonce []byte) []byte {
	if delta {
		return appendStringField(make([]byte, 0, len(nonce)+4), 6, nonce)
	}
	tail := make([]byte, 0, len(version)+len(nonce)+8)
	tail = appendStringField(tail, 1, version)
	return appendStringField(tail, 5, nonce)
}

// ---- the armed update ----

// armState is one armed update and the progress of this process's streams on it. A new arm is a new
// value: each stream notices it on its next response, before reading it (see stream.take), and starts
// over from the versions it held then, which are the versions it held when the arm was published.
type armState struct {
	seq         int
	kind        string
	target      string
	oneEndpoint bool

	mu          sync.Mutex
	doneCount   int
	firstAt     float64
	lastAt      float64
	verifyError string
}

var (
	currentArm atomic.Pointer[armState]

	bytesReceived  atomic.Int64
	responseCount  atomic.Int64
	errorCount     atomic.Int64
	reportedErrors atomic.Int64
	exiting        atomic.Bool

	readyMu       sync.Mutex
	readyCount    int
	openedAt      float64
	firstConfigAt = math.Inf(1)
	lastConfigAt  float64
)

func doArm(m toClient) {
	a := &armState{seq: m.Seq, kind: m.Kind, target: m.Target, oneEndpoint: m.Kind == "one-endpoint", firstAt: math.Inf(1)}
	currentArm.Store(a)
	ch.send(armedMsg{Type: "armed", Seq: m.Seq})
}

// ---- streams ----

type stream struct {
	index  int
	verify bool
	cs     grpc.ClientStream

	// Receive goroutine only (take runs on it, inside RecvMsg).
	rd            chunkReader
	env           envelope
	at            float64
	arm           *armState
	edsSubscribed bool
	ready         bool
	cdsHave       int
	edsHave       int
	cdsVersion    string
	edsVersion    string
	baseCds       string
	baseEds       string
	cdsAt         float64
	edsAt         float64
	cdsCount      int
	edsCount      int
	done          bool
	// The verifying stream keeps the last response of each type (a copy: gRPC frees its buffers).
	last [3][]byte

	// Requests wait here for the stream's send goroutine, so a receive never waits for a write (flow
	// control, a large SotW ACK): like load-client.ts, which writes once the responses at hand were taken in.
	outMu sync.Mutex
	out   []outMsg
	wake  chan struct{}
}

// take is the codec's Unmarshal: the receipt time, then the envelope, read on gRPC's buffers.
func (s *stream) take(data mem.BufferSlice) error {
	s.at = nowMs()
	bytesReceived.Add(int64(data.Len()))
	responseCount.Add(1)
	if a := currentArm.Load(); a != s.arm {
		s.rearm(a)
	}
	want := ""
	if s.arm != nil && !s.done && s.arm.oneEndpoint {
		want = s.arm.target
	}
	if err := readEnvelope(&s.rd, data, delta, want, &s.env); err != nil {
		return err
	}
	if s.verify && s.env.typ != typeOther {
		s.last[s.env.typ] = data.Materialize()
	}
	return nil
}

func (s *stream) rearm(a *armState) {
	s.arm = a
	s.baseCds, s.baseEds = s.cdsVersion, s.edsVersion
	s.cdsAt, s.edsAt, s.cdsCount, s.edsCount, s.done = 0, 0, 0, 0, false
}

// setVersion stores v in *dst, allocating only when it changed.
func setVersion(dst *string, v []byte) {
	if string(v) != *dst {
		*dst = string(v)
	}
}

// onResponse is load-client.ts's onResponse, after the envelope was read.
func (s *stream) onResponse() {
	e := &s.env
	at := s.at
	isCds, isEds := e.typ == typeCDS, e.typ == typeEDS
	var version []byte
	if !delta {
		version = e.version
	}

	// ACK every response (the send goroutine writes it).
	if isCds {
		s.send(req.cdsAck, ackTail(version, e.nonce))
	} else if isEds {
		s.send(req.edsAck, ackTail(version, e.nonce))
	}

	if isCds {
		setVersion(&s.cdsVersion, version)
		if delta {
			s.cdsHave += e.resourceCount
		} else {
			s.cdsHave = e.resourceCount
		}
		// Like Envoy: subscribe to endpoints once clusters arrived.
		if !s.edsSubscribed {
			s.edsSubscribed = true
			s.send(req.edsSubscribe, nil)
		}
	} else if isEds {
		setVersion(&s.edsVersion, version)
		if delta {
			s.edsHave += e.resourceCount
		} else {
			s.edsHave = e.resourceCount
		}
	}

	if !s.ready && s.cdsHave >= r && s.edsHave >= r {
		s.ready = true
		streamReady(at)
	}

	a := s.arm
	if a == nil || s.done {
		return
	}
	switch {
	case !delta:
		if isCds && s.cdsAt == 0 && s.cdsVersion != s.baseCds {
			s.cdsAt = at
		}
		if isEds && s.edsAt == 0 && s.edsVersion != s.baseEds {
			s.edsAt = at
		}
	case a.oneEndpoint:
		if isEds && s.edsAt == 0 && e.hasWanted {
			s.edsAt = at
		}
	default:
		if isCds {
			s.cdsCount += e.resourceCount
		}
		if isEds {
			s.edsCount += e.resourceCount
		}
		if s.cdsAt == 0 && s.cdsCount >= r {
			s.cdsAt = at
		}
		if s.edsAt == 0 && s.edsCount >= r {
			s.edsAt = at
		}
	}
	if s.edsAt == 0 || (!a.oneEndpoint && s.cdsAt == 0) {
		return
	}
	s.done = true
	t := math.Max(s.edsAt, s.cdsAt)
	verifyError := ""
	if s.verify {
		verifyError = verifyUpdate(s, a, delta)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.doneCount++
	a.firstAt = math.Min(a.firstAt, t)
	a.lastAt = math.Max(a.lastAt, t)
	if a.verifyError == "" {
		a.verifyError = verifyError
	}
	if a.doneCount == *streamCount {
		ch.send(doneMsg{Type: "done", Seq: a.seq, FirstAt: a.firstAt, LastAt: a.lastAt, VerifyError: a.verifyError})
	}
}

func streamReady(at float64) {
	readyMu.Lock()
	defer readyMu.Unlock()
	readyCount++
	firstConfigAt = math.Min(firstConfigAt, at)
	lastConfigAt = math.Max(lastConfigAt, at)
	if readyCount == *streamCount {
		ch.send(readyMsg{Type: "ready", Streams: *streamCount, OpenedAt: openedAt, FirstConfigAt: firstConfigAt, LastConfigAt: lastConfigAt})
	}
}

func (s *stream) send(prefix, tail []byte) {
	s.outMu.Lock()
	s.out = append(s.out, outMsg{prefix: prefix, tail: tail})
	s.outMu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *stream) sendLoop(ctx context.Context) {
	var batch []outMsg
	for {
		select {
		case <-s.wake:
		case <-ctx.Done():
			return
		}
		s.outMu.Lock()
		batch, s.out = s.out, batch[:0]
		s.outMu.Unlock()
		for i := range batch {
			if err := s.cs.SendMsg(&batch[i]); err != nil {
				return // the stream ended; the receive loop reports why
			}
			batch[i] = outMsg{}
		}
	}
}

func (s *stream) fail(err error) {
	// Like grpc-js: a cancelled call (our own exit) and a stream the server ended with OK are no errors.
	if exiting.Load() || errors.Is(err, io.EOF) || status.Code(err) == codes.Canceled {
		return
	}
	errorCount.Add(1)
	if reportedErrors.Add(1) <= 3 {
		ch.send(errorMsg{Type: "error", Message: fmt.Sprintf("stream %d: %v", s.index, err)})
	}
}

func (s *stream) run(ctx context.Context, conn *grpc.ClientConn) {
	method := sotwMethod
	if delta {
		method = deltaMethod
	}
	cs, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, method, grpc.ForceCodecV2(rawCodec{}))
	if err != nil {
		s.fail(err)
		return
	}
	s.cs = cs
	go s.sendLoop(ctx)
	s.send(req.first(fmt.Sprintf("bench-node-%d", s.index)), nil)
	for {
		if err := cs.RecvMsg(s); err != nil {
			s.fail(err)
			return
		}
		s.onResponse()
	}
}

// ---- main ----

func fatal(code int, format string, args ...any) {
	msg := fmt.Sprintf("client %d: %s", *clientIndex, fmt.Sprintf(format, args...))
	if ch != nil {
		ch.send(errorMsg{Type: "error", Message: msg})
	}
	fmt.Fprintln(os.Stderr, msg)
	os.Exit(code)
}

func main() {
	flag.Parse()
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	var err error
	if ch, err = openIPC(); err != nil {
		fmt.Fprintln(os.Stderr, "load-client-go:", err)
		os.Exit(2)
	}
	switch *mode {
	case "sotw":
	case "delta":
		delta = true
	default:
		fatal(2, "unknown --mode=%s", *mode)
	}
	var names []string
	if r, names, err = readWorkloadHeader(*workload); err != nil {
		fatal(2, "%v", err)
	}
	req = makeRequests(names)
	if *perChannel < 1 {
		*perChannel = 1
	}

	// Bounded: the process ends by itself at its deadline, or when the runner goes away.
	time.AfterFunc(time.Duration(*deadlineMs*float64(time.Millisecond)), func() {
		fatal(3, "deadline of %v ms reached", *deadlineMs)
	})
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		os.Exit(0)
	}()

	ctx, cancel := context.WithCancel(context.Background())
	var connsMu sync.Mutex
	var conns []*grpc.ClientConn
	go func() {
		err := ch.readLoop(func(m toClient) {
			switch m.Type {
			case "arm":
				doArm(m)
			case "counters":
				ch.send(countersMsg{Type: "counters", Bytes: bytesReceived.Load(), Responses: responseCount.Load(), Errors: errorCount.Load()})
			case "exit":
				exiting.Store(true)
				cancel()
				connsMu.Lock()
				for _, c := range conns {
					_ = c.Close()
				}
				connsMu.Unlock()
				time.AfterFunc(100*time.Millisecond, func() { os.Exit(0) })
			}
		})
		if err != nil {
			fmt.Fprintf(os.Stderr, "load-client-go %d: ipc: %v\n", *clientIndex, err)
		}
		os.Exit(0) // the runner closed the channel (it exited or disconnected)
	}()

	openedAt = nowMs()
	if *streamCount == 0 {
		t := nowMs()
		ch.send(readyMsg{Type: "ready", Streams: 0, OpenedAt: t, FirstConfigAt: t, LastConfigAt: t})
	}
	channels := (*streamCount + *perChannel - 1) / *perChannel
	for c := range channels {
		conn, err := grpc.NewClient("passthrough:///"+*target,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32), grpc.MaxCallSendMsgSize(math.MaxInt32)),
		)
		if err != nil {
			fatal(2, "channel %d: %v", c, err)
		}
		connsMu.Lock()
		if exiting.Load() {
			connsMu.Unlock()
			_ = conn.Close()
			break
		}
		conns = append(conns, conn)
		connsMu.Unlock()
		first := c * *perChannel
		last := min(*streamCount, first+*perChannel)
		for i := first; i < last; i++ {
			s := &stream{index: *offset + i, verify: *verify && i == 0, wake: make(chan struct{}, 1)}
			go s.run(ctx, conn)
		}
		// Let the connection come up and the first responses flow before the next batch.
		time.Sleep(5 * time.Millisecond)
	}
	select {}
}
