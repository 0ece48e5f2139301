// A certificate client written against Istio's own generated API (istio.io/api security/v1alpha1, the
// package istio-agent uses) and grpc-go: it makes a key and a CSR the way istio-agent does (ECDSA P-256,
// the SPIFFE id as URI SAN), calls istio.v1.auth.IstioCertificateService/CreateCertificate, and checks the
// answer with Go's crypto/x509 verifier. Used by xdskit's end-to-end test as a client nobody here wrote
// the protocol side of. Prints one JSON line; exits non-zero with the gRPC status on failure.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	pb "istio.io/api/security/v1alpha1"
)

type result struct {
	SpiffeID    string   `json:"spiffeId,omitempty"`
	ChainLength int      `json:"chainLength,omitempty"`
	NotAfter    string   `json:"notAfter,omitempty"`
	VerifiedBy  string   `json:"verifiedBy,omitempty"`
	Code        string   `json:"code,omitempty"`
	Message     string   `json:"message,omitempty"`
	Requests    int      `json:"requests,omitempty"`
	Seconds     float64  `json:"seconds,omitempty"`
	PerSecond   float64  `json:"perSecond,omitempty"`
	P50Ms       float64  `json:"p50Ms,omitempty"`
	P99Ms       float64  `json:"p99Ms,omitempty"`
	Failures    int      `json:"failures,omitempty"`
	Errors      []string `json:"errors,omitempty"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:15012", "CA address")
	rootFile := flag.String("root", "", "PEM file of the root(s) the CA's serving certificate and the answer chain to")
	token := flag.String("token", "", "bearer token")
	spiffe := flag.String("spiffe", "spiffe://cluster.local/ns/default/sa/default", "SPIFFE id to put in the CSR")
	ttl := flag.Int64("ttl", 0, "validity_duration in seconds (0: the CA's default)")
	count := flag.Int("n", 1, "number of certificates to request (more than 1: a load run, printing throughput)")
	inFlight := flag.Int("c", 1, "requests in flight during a load run")
	keys := flag.Int("keys", 64, "distinct keys (and CSRs) to cycle through during a load run")
	flag.Parse()

	out := json.NewEncoder(os.Stdout)
	fail := func(code string, err error) {
		_ = out.Encode(result{Code: code, Message: err.Error()})
		os.Exit(1)
	}
	rootPEM, err := os.ReadFile(*rootFile)
	if err != nil {
		fail("USAGE", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(rootPEM) {
		fail("USAGE", errors.New("no certificate in -root"))
	}
	// The CA's serving certificate carries a SPIFFE id, not a host name: verify the chain, not the name.
	tlsConfig := &tls.Config{
		InsecureSkipVerify: true,
		VerifyConnection: func(state tls.ConnectionState) error {
			intermediates := x509.NewCertPool()
			for _, c := range state.PeerCertificates[1:] {
				intermediates.AddCert(c)
			}
			_, err := state.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: intermediates})
			return err
		},
	}
	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(credentials.NewTLS(tlsConfig)))
	if err != nil {
		fail("DIAL", err)
	}
	defer conn.Close()
	client := pb.NewIstioCertificateServiceClient(conn)
	ctx := context.Background()
	if *token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+*token)
	}
	spiffeURL, err := url.Parse(*spiffe)
	if err != nil {
		fail("USAGE", err)
	}

	if *count <= 1 {
		key, csr := newCSR(spiffeURL)
		call, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		resp, err := client.CreateCertificate(call, &pb.IstioCertificateRequest{Csr: string(csr), ValidityDuration: *ttl})
		if err != nil {
			st, _ := status.FromError(err)
			_ = out.Encode(result{Code: st.Code().String(), Message: st.Message()})
			os.Exit(2)
		}
		leaf, err := verifyChain(resp.CertChain, roots, key)
		if err != nil {
			fail("BAD_CHAIN", err)
		}
		_ = out.Encode(result{
			SpiffeID:    leaf.URIs[0].String(),
			ChainLength: len(resp.CertChain),
			NotAfter:    leaf.NotAfter.UTC().Format(time.RFC3339),
			VerifiedBy:  "crypto/x509",
		})
		return
	}

	// Load run: CSRs made up front (a workload makes one per rotation), then n calls with c in flight.
	csrs := make([][]byte, *keys)
	for i := range csrs {
		_, csrs[i] = newCSR(spiffeURL)
	}
	latencies := make([]time.Duration, *count)
	var failures int
	var errs []string
	var mu sync.Mutex
	next := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < *inFlight; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t := time.Now()
				call, cancel := context.WithTimeout(ctx, 60*time.Second)
				resp, err := client.CreateCertificate(call, &pb.IstioCertificateRequest{Csr: string(csrs[i%len(csrs)]), ValidityDuration: *ttl})
				cancel()
				latencies[i] = time.Since(t)
				if err != nil || len(resp.CertChain) < 2 {
					mu.Lock()
					failures++
					if len(errs) < 5 && err != nil {
						errs = append(errs, err.Error())
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < *count; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(start)
	sort.Slice(latencies, func(a, b int) bool { return latencies[a] < latencies[b] })
	ms := func(q float64) float64 {
		return float64(latencies[int(q*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	_ = out.Encode(result{
		Requests:  *count,
		Seconds:   elapsed.Seconds(),
		PerSecond: float64(*count) / elapsed.Seconds(),
		P50Ms:     ms(0.5),
		P99Ms:     ms(0.99),
		Failures:  failures,
		Errors:    errs,
	})
}

// newCSR makes an ECDSA P-256 key and a PEM CSR whose only SAN is the SPIFFE id (istio-agent's default).
func newCSR(spiffe *url.URL) (*ecdsa.PrivateKey, []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{URIs: []*url.URL{spiffe}}, key)
	if err != nil {
		panic(err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// verifyChain checks the answer: leaf first, root last, the leaf carrying our key and verifying to a trusted
// root for client and server authentication.
func verifyChain(chain []string, roots *x509.CertPool, key *ecdsa.PrivateKey) (*x509.Certificate, error) {
	if len(chain) < 2 {
		return nil, fmt.Errorf("cert_chain has %d entries, want the leaf and the root at least", len(chain))
	}
	var certs []*x509.Certificate
	for i, entry := range chain {
		rest := []byte(entry)
		for {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				break
			}
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("cert_chain[%d]: %v", i, err)
			}
			certs = append(certs, c)
		}
	}
	leaf := certs[0]
	intermediates := x509.NewCertPool()
	for _, c := range certs[1 : len(certs)-1] {
		intermediates.AddCert(c)
	}
	if !certs[len(certs)-1].IsCA {
		return nil, errors.New("the last entry of cert_chain is not a CA")
	}
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: intermediates, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
			return nil, err
		}
	}
	if pub, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
		return nil, errors.New("the certificate does not carry the CSR's key")
	}
	if len(leaf.URIs) != 1 || len(leaf.DNSNames) != 0 || len(leaf.IPAddresses) != 0 {
		return nil, fmt.Errorf("SANs: want one URI, got URIs %v DNS %v IPs %v", leaf.URIs, leaf.DNSNames, leaf.IPAddresses)
	}
	if !strings.HasPrefix(leaf.URIs[0].String(), "spiffe://") || leaf.IsCA {
		return nil, errors.New("not a SPIFFE workload certificate")
	}
	return leaf, nil
}
