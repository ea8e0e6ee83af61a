// Package tlsfiles reads a TLS configuration from PEM files and builds the
// HTTP client a schema registry is reached with. It links no Kafka client:
// the generator (streamgen generate, check, schemas pull) uses it to reach
// a registry without linking the engine, and the runtime uses it for the
// job's own registry client.
package tlsfiles

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"time"
)

// Files is a TLS configuration from PEM files: a CA to verify the server
// with (default: the system's roots) and a client certificate.
type Files struct {
	CA, Cert, Key      string
	InsecureSkipVerify bool
}

// Config reads the files into a tls.Config (TLS 1.2 or later).
func (f Files) Config() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: f.InsecureSkipVerify}
	if f.CA != "" {
		pem, err := os.ReadFile(f.CA)
		if err != nil {
			return nil, fmt.Errorf("CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA: %s holds no PEM certificate", f.CA)
		}
		tc.RootCAs = pool
	}
	if f.Cert != "" || f.Key != "" {
		cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// IsZero reports whether f sets nothing.
func (f Files) IsZero() bool { return f == Files{} }

// RegistryTimeout bounds each request of HTTPClient's clients.
const RegistryTimeout = 30 * time.Second

// HTTPClient is the HTTP client of a schema registry client: tc (nil: the
// defaults), the proxy from the environment, and RegistryTimeout per
// request.
func HTTPClient(tc *tls.Config) *http.Client {
	return &http.Client{Timeout: RegistryTimeout, Transport: &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment}}
}
