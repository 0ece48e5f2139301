// istiod's CA run standalone, and a load client made of Istio's own agent CA client, for bench/certs-istiod.ts.
//
//	istiod-ca serve -dir DIR            istiod's CA (security/pkg/pki/ca, self-signed RSA-2048 root as istiod
//	                                    makes it without Kubernetes; -root-key for RSA_4096 or a plug-in
//	                                    ECDSA_P256 root) behind its IstioCertificateService server
//	                                    (security/pkg/server/ca) on 127.0.0.1:0, TLS like istiod's 15012.
//	                                    Prints "READY <port> <root PEM path> <serving root PEM path>", exits
//	                                    when stdin closes.
//	istiod-ca serving-cert -dir DIR     a serving root and a certificate for istiod.istio-system.svc (what
//	                                    istio-agent checks the CA's name against), for xdskit's bench server,
//	                                    whose own serving certificate carries a SPIFFE id only.
//	istiod-ca load -addr A ...          CitadelClient.CSRSign (security/pkg/nodeagent/caclient/providers/citadel)
//	                                    with CSRs from security/pkg/pki/util.GenCSR, n calls with c in flight.
//	                                    Prints one JSON line.
//
// Both CAs authenticate the load client by a bearer token "<namespace>/<service account>" taken at its word:
// the bench measures signing, not token review (istiod's Kubernetes TokenReview is a remote call).
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	"istio.io/istio/pilot/pkg/features"
	istiogrpc "istio.io/istio/pilot/pkg/grpc"
	"istio.io/istio/pkg/keepalive"
	"istio.io/istio/pkg/log"
	"istio.io/istio/pkg/security"
	"istio.io/istio/security/pkg/nodeagent/caclient/providers/citadel"
	"istio.io/istio/security/pkg/pki/ca"
	"istio.io/istio/security/pkg/pki/util"
	caserver "istio.io/istio/security/pkg/server/ca"
	"istio.io/istio/security/pkg/server/ca/authenticate"
)

const (
	trustDomain = "cluster.local"
	// The name istio-agent checks the CA's serving certificate against (its CA_ADDR's default host).
	istiodHost = "istiod.istio-system.svc"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: istiod-ca serve|serving-cert|load [flags]")
		os.Exit(2)
	}
	// Istio's scoped loggers print every failed CSR at error level; the bench reports failures itself.
	_ = log.Configure(log.DefaultOptions())
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "serving-cert":
		err = servingCert(os.Args[2:])
	case "load":
		err = load(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "istiod-ca:", err)
		os.Exit(1)
	}
}

// bearerAuthenticator implements Istio's security.Authenticator: the token "<namespace>/<service account>" is
// the caller's identity (xdskit's bench server accepts the same tokens).
type bearerAuthenticator struct{}

func (bearerAuthenticator) AuthenticatorType() string { return "BenchBearerAuthenticator" }

func (bearerAuthenticator) Authenticate(ctx security.AuthContext) (*security.Caller, error) {
	md, ok := metadata.FromIncomingContext(ctx.GrpcContext)
	if !ok {
		return nil, errors.New("no metadata")
	}
	for _, value := range md.Get("authorization") {
		token, found := strings.CutPrefix(value, "Bearer ")
		if !found {
			continue
		}
		namespace, serviceAccount, found := strings.Cut(token, "/")
		if !found || namespace == "" || serviceAccount == "" {
			return nil, fmt.Errorf("token %q is not <namespace>/<service account>", token)
		}
		return &security.Caller{
			AuthSource: security.AuthSourceIDToken,
			Identities: []string{fmt.Sprintf("spiffe://%s/ns/%s/sa/%s", trustDomain, namespace, serviceAccount)},
		}, nil
	}
	return nil, errors.New("no bearer token")
}

func serve(args []string) error {
	flags := flag.NewFlagSet("serve", flag.ExitOnError)
	dir := flags.String("dir", ".", "directory for the root PEM files")
	rootKey := flags.String("root-key", "RSA_2048", "the root's key: RSA_2048 (istiod's default), RSA_4096 or ECDSA_P256")
	cpuProfile := flags.String("cpuprofile", "", "write a CPU profile here until stdin closes")
	_ = flags.Parse(args)

	options, err := caOptions(*rootKey)
	if err != nil {
		return err
	}
	authority, err := ca.NewIstioCA(options)
	if err != nil {
		return err
	}
	// istiod serves 15012 with a certificate of its own CA for its DNS names.
	servingChain, servingKey, err := authority.GenKeyCert([]string{istiodHost}, 24*time.Hour, false)
	if err != nil {
		return err
	}
	serving, err := tls.X509KeyPair(servingChain, servingKey)
	if err != nil {
		return err
	}
	rootPEM := authority.GetCAKeyCertBundle().GetRootCertPem()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(rootPEM)
	// As istiod's secure gRPC server: a client certificate is checked if given, tokens otherwise.
	tlsConfig := &tls.Config{
		Certificates: []tls.Certificate{serving},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    roots,
		MinVersion:   tls.VersionTLS12,
	}
	server, err := caserver.New(authority, 24*time.Hour,
		[]security.Authenticator{&authenticate.ClientCertAuthenticator{}, bearerAuthenticator{}}, nil)
	if err != nil {
		return err
	}
	grpcServer := grpc.NewServer(append(istiogrpc.ServerOptions(keepalive.DefaultOption(), func(int64) {}),
		grpc.Creds(credentials.NewTLS(tlsConfig)))...)
	server.Register(grpcServer)
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	rootPath := filepath.Join(*dir, fmt.Sprintf("istiod-root-cert-%s.pem", *rootKey))
	if err := os.WriteFile(rootPath, rootPEM, 0o600); err != nil {
		return err
	}
	if *cpuProfile != "" {
		file, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(file); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	go func() { _ = grpcServer.Serve(listener) }()
	// The CA root also verifies the serving certificate: one file for both.
	fmt.Printf("READY %d %s %s\n", listener.Addr().(*net.TCPAddr).Port, rootPath, rootPath)
	_, _ = io.Copy(io.Discard, os.Stdin)
	grpcServer.Stop()
	return nil
}

// caOptions are istiod's defaults without Kubernetes (pilot/pkg/bootstrap/istio_ca.go): a self-signed root
// valid 10 years, workload certificates 24 h by default and 90 days at most, the trust domain as organization.
// istiod makes RSA roots only (CITADEL_SELF_SIGNED_CA_RSA_KEY_SIZE); an ECDSA root reaches it as a plug-in
// cacerts root, which this builds in memory the same way (root = signing certificate, no intermediates).
func caOptions(rootKey string) (*ca.IstioCAOptions, error) {
	const rootTTL, defaultTTL, maxTTL = 10 * 365 * 24 * time.Hour, 24 * time.Hour, 90 * 24 * time.Hour
	switch rootKey {
	case "RSA_2048":
		return ca.NewSelfSignedDebugIstioCAOptions("", rootTTL, defaultTTL, maxTTL, trustDomain, 2048)
	case "RSA_4096":
		return ca.NewSelfSignedDebugIstioCAOptions("", rootTTL, defaultTTL, maxTTL, trustDomain, 4096)
	case "ECDSA_P256":
		rootCert, rootKeyPEM, err := util.GenCertKeyFromOptions(util.CertOptions{
			TTL: rootTTL, Org: trustDomain, IsCA: true, IsSelfSigned: true, IsDualUse: true,
			ECSigAlg: util.EcdsaSigAlg, ECCCurve: util.P256Curve,
		})
		if err != nil {
			return nil, err
		}
		bundle, err := util.NewVerifiedKeyCertBundleFromPem(rootCert, rootKeyPEM, nil, rootCert, nil)
		if err != nil {
			return nil, err
		}
		return &ca.IstioCAOptions{DefaultCertTTL: defaultTTL, MaxCertTTL: maxTTL, CARSAKeySize: 2048, KeyCertBundle: bundle}, nil
	}
	return nil, fmt.Errorf("-root-key %q: want RSA_2048, RSA_4096 or ECDSA_P256", rootKey)
}

func servingCert(args []string) error {
	flags := flag.NewFlagSet("serving-cert", flag.ExitOnError)
	dir := flags.String("dir", ".", "where to write serving-root.pem, serving-cert.pem, serving-key.pem")
	_ = flags.Parse(args)
	rootCert, rootKey, err := util.GenCertKeyFromOptions(util.CertOptions{
		TTL: 24 * time.Hour, Org: "xdskit bench serving root", IsCA: true, IsSelfSigned: true,
		ECSigAlg: util.EcdsaSigAlg,
	})
	if err != nil {
		return err
	}
	signerCert, err := util.ParsePemEncodedCertificate(rootCert)
	if err != nil {
		return err
	}
	signerKey, err := util.ParsePemEncodedKey(rootKey)
	if err != nil {
		return err
	}
	leafCert, leafKey, err := util.GenCertKeyFromOptions(util.CertOptions{
		Host: istiodHost, TTL: 24 * time.Hour, IsServer: true, ECSigAlg: util.EcdsaSigAlg, PKCS8Key: true,
		SignerCert: signerCert, SignerPriv: signerKey,
	})
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{
		"serving-root.pem": rootCert, "serving-cert.pem": leafCert, "serving-key.pem": leafKey,
	} {
		if err := os.WriteFile(filepath.Join(*dir, name), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// fixedToken is istio-agent's credential source (security.CredFetcher) reduced to one token.
type fixedToken string

func (t fixedToken) GetPlatformCredential() (string, error) { return string(t), nil }
func (fixedToken) GetIdentityProvider() string              { return "" }
func (fixedToken) Stop()                                    {}

type loadResult struct {
	Requests      int      `json:"requests"`
	Seconds       float64  `json:"seconds"`
	PerSecond     float64  `json:"perSecond"`
	P50Ms         float64  `json:"p50Ms"`
	P99Ms         float64  `json:"p99Ms"`
	ClientCPUSecs float64  `json:"clientCpuSeconds"`
	ServerCPUSecs float64  `json:"serverCpuSeconds"`
	Failures      int      `json:"failures"`
	Errors        []string `json:"errors,omitempty"`
	Verified      string   `json:"verified,omitempty"`
}

func load(args []string) error {
	flags := flag.NewFlagSet("load", flag.ExitOnError)
	addr := flags.String("addr", "", "the CA's host:port")
	servingRoot := flags.String("serving-root", "", "PEM root the CA's serving certificate chains to")
	caRoot := flags.String("ca-root", "", "PEM root the signed certificates chain to (checked on the first answer)")
	token := flags.String("token", "bench/load", "bearer token <namespace>/<service account>")
	duration := flags.Duration("duration", 4*time.Second, "how long to keep c calls in flight (after the warm-up)")
	warmup := flags.Duration("warmup", time.Second, "calls before the clock starts (the CA's caches, JIT, connection)")
	inFlight := flags.Int("c", 16, "calls in flight")
	keys := flags.Int("keys", 64, "distinct workload keys (and CSRs) to cycle through, made before the clock starts")
	keyType := flags.String("csr-key", "EC_P256", "workload key: EC_P256 or RSA_2048 (istio-agent's default)")
	csrCache := flags.String("csr-cache", "", "directory to keep the CSRs in between runs (RSA keys take a while)")
	serverPid := flags.Int("server-pid", 0, "the CA's process id: its CPU time during the run is reported (Linux)")
	_ = flags.Parse(args)

	namespace, serviceAccount, _ := strings.Cut(*token, "/")
	spiffe := fmt.Sprintf("spiffe://%s/ns/%s/sa/%s", trustDomain, namespace, serviceAccount)
	pool, err := workloadCSRs(spiffe, *keyType, *keys, *csrCache)
	if err != nil {
		return err
	}

	// ClusterID and CAEndpointSAN as istio-agent sets them by default.
	client, err := citadel.NewCitadelClient(&security.Options{
		CAEndpoint:    *addr,
		CAEndpointSAN: istiodHost,
		ClusterID:     "Kubernetes",
		CredFetcher:   fixedToken(*token),
	}, &citadel.TLSOptions{RootCert: *servingRoot})
	if err != nil {
		return err
	}
	defer client.Close()

	// One call first, checked with Istio's verifier: chain to the CA root, the CSR's key, the SPIFFE id.
	result := loadResult{}
	chain, err := client.CSRSign(pool[0].CSR, 0)
	if err != nil {
		return err
	}
	if *caRoot != "" {
		rootPEM, err := os.ReadFile(*caRoot)
		if err != nil {
			return err
		}
		leafAndIntermediates := strings.Join(chain[:len(chain)-1], "")
		// What istiod puts in a workload certificate: both TLS usages, not a CA, no subject.
		expected := &util.VerifyFields{
			Host:        spiffe,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		}
		if err := util.VerifyCertificate(pool[0].Key, []byte(leafAndIntermediates), rootPEM, expected); err != nil {
			return fmt.Errorf("the first answer does not verify: %v", err)
		}
		result.Verified = "security/pkg/pki/util.VerifyCertificate"
	}

	run := func(length time.Duration) ([]time.Duration, time.Duration) {
		perWorker := make([][]time.Duration, *inFlight)
		var wg sync.WaitGroup
		var mu sync.Mutex
		start := time.Now()
		deadline := start.Add(length)
		for w := 0; w < *inFlight; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := w; time.Now().Before(deadline); i += *inFlight {
					t := time.Now()
					_, err := client.CSRSign(pool[i%len(pool)].CSR, 0)
					perWorker[w] = append(perWorker[w], time.Since(t))
					if err != nil {
						mu.Lock()
						result.Failures++
						if len(result.Errors) < 5 {
							result.Errors = append(result.Errors, err.Error())
						}
						mu.Unlock()
					}
				}
			}(w)
		}
		wg.Wait()
		elapsed := time.Since(start)
		var all []time.Duration
		for _, l := range perWorker {
			all = append(all, l...)
		}
		return all, elapsed
	}
	run(*warmup)
	result.Failures, result.Errors = 0, nil

	clientBefore, serverBefore := cpuSeconds(), processCPUSeconds(*serverPid)
	latencies, elapsed := run(*duration)
	result.ClientCPUSecs = cpuSeconds() - clientBefore
	result.ServerCPUSecs = processCPUSeconds(*serverPid) - serverBefore
	sort.Slice(latencies, func(a, b int) bool { return latencies[a] < latencies[b] })
	ms := func(q float64) float64 {
		return float64(latencies[int(q*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	result.Requests = len(latencies)
	result.Seconds = elapsed.Seconds()
	result.PerSecond = float64(len(latencies)) / elapsed.Seconds()
	result.P50Ms = ms(0.5)
	result.P99Ms = ms(0.99)
	return json.NewEncoder(os.Stdout).Encode(result)
}

type workloadCSR struct {
	CSR []byte `json:"csr"`
	Key []byte `json:"key"`
}

// workloadCSRs makes count keys and CSRs with Istio's util.GenCSR, as istio-agent does for a workload.
func workloadCSRs(spiffe, keyType string, count int, cacheDir string) ([]workloadCSR, error) {
	options := util.CertOptions{Host: spiffe, Org: trustDomain}
	switch keyType {
	case "EC_P256":
		options.ECSigAlg = util.EcdsaSigAlg
		options.ECCCurve = util.P256Curve
	case "RSA_2048":
		options.RSAKeySize = 2048
	default:
		return nil, fmt.Errorf("-csr-key %q: want EC_P256 or RSA_2048", keyType)
	}
	var cachePath string
	if cacheDir != "" {
		cachePath = filepath.Join(cacheDir, fmt.Sprintf("csrs-%s-%d-%s.json", keyType, count,
			strings.NewReplacer("/", "_", ":", "_").Replace(spiffe)))
		if data, err := os.ReadFile(cachePath); err == nil {
			var pool []workloadCSR
			if json.Unmarshal(data, &pool) == nil && len(pool) == count {
				return pool, nil
			}
		}
	}
	pool := make([]workloadCSR, count)
	for i := range pool {
		csr, key, err := util.GenCSR(options)
		if err != nil {
			return nil, err
		}
		pool[i] = workloadCSR{CSR: csr, Key: key}
	}
	if cachePath != "" {
		data, _ := json.Marshal(pool)
		if err := os.WriteFile(cachePath, data, 0o600); err != nil {
			return nil, err
		}
	}
	return pool, nil
}

// cpuSeconds is this process's user + system CPU time so far.
func cpuSeconds() float64 {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano()).Seconds()
}

// processCPUSeconds is another process's user + system CPU time so far, from /proc (0 without it).
func processCPUSeconds(pid int) float64 {
	if pid <= 0 {
		return 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces: count fields after its closing parenthesis.
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	if len(fields) < 13 {
		return 0
	}
	var utime, stime float64
	fmt.Sscan(fields[11], &utime)
	fmt.Sscan(fields[12], &stime)
	const clockTicksPerSecond = 100 // USER_HZ on Linux
	return (utime + stime) / clockTicksPerSecond
}

// features is imported for its side effect of reading istiod's environment (as istiod does at start).
var _ = features.MaxConcurrentStreams
