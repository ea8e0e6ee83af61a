package tlsfiles

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writePair writes a self-signed certificate and its key as PEM files.
func writePair(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "registry.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	cert, key := writePair(t, dir)
	tc, err := Files{CA: cert, Cert: cert, Key: key}.Config()
	if err != nil {
		t.Fatal(err)
	}
	if tc.MinVersion != tls.VersionTLS12 || tc.RootCAs == nil || len(tc.Certificates) != 1 || tc.InsecureSkipVerify {
		t.Errorf("Config = %+v: want TLS 1.2+, the CA as root, one client certificate, verification on", tc)
	}
	if tc, err := (Files{}).Config(); err != nil || tc.RootCAs != nil || tc.Certificates != nil {
		t.Errorf("zero Files: %+v, %v; want the system's roots and no client certificate", tc, err)
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	cert, key := writePair(t, dir)
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		f    Files
		want string
	}{
		{Files{CA: filepath.Join(dir, "missing.pem")}, "CA: open "},
		{Files{CA: notPEM}, "CA: " + notPEM + " holds no PEM certificate"},
		{Files{Cert: cert}, "client certificate: "},
		{Files{Cert: key, Key: cert}, "client certificate: "},
	} {
		_, err := c.f.Config()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want it to contain %q", c.f, err, c.want)
		}
	}
}

func TestIsZeroAndHTTPClient(t *testing.T) {
	if !(Files{}).IsZero() || (Files{InsecureSkipVerify: true}).IsZero() {
		t.Error("IsZero: want true for the zero value only")
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS13}
	cl := HTTPClient(tc)
	tr, ok := cl.Transport.(*http.Transport)
	if !ok || tr.TLSClientConfig != tc || tr.Proxy == nil || cl.Timeout != RegistryTimeout {
		t.Errorf("HTTPClient: %+v; want tc, the environment's proxy and a %v timeout", cl, RegistryTimeout)
	}
}
