package runtime

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// consumeOnce runs an Assign stream over partition 0 until it delivered n
// records, or returns Run's error.
func consumeOnce(t *testing.T, n int64, opts ...Opt) error {
	t.Helper()
	e, err := New(append([]Opt{ShutdownTimeout(10 * time.Second), BatchInterval(30 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStream[[]byte, []byte](e, "s", Assign(TopicPartition{testTopic, 0}), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got atomic.Int64
	errc := make(chan error, 1)
	go func() {
		errc <- e.Run(ctx, func(_ context.Context, bs *JobBatch) error {
			got.Add(int64(s.Batch(bs).Len()))
			return nil
		})
	}()
	for got.Load() < n {
		select {
		case err := <-errc:
			return err
		case <-ctx.Done():
			t.Fatalf("delivered %d of %d records", got.Load(), n)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := e.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	return <-errc
}

func TestSASL(t *testing.T) {
	for _, tc := range []struct {
		method string
		mech   func(user, pass string) sasl.Mechanism
	}{
		{"PLAIN", func(u, p string) sasl.Mechanism { return plain.Auth{User: u, Pass: p}.AsMechanism() }},
		{"SCRAM-SHA-256", func(u, p string) sasl.Mechanism { return scram.Auth{User: u, Pass: p}.AsSha256Mechanism() }},
		{"SCRAM-SHA-512", func(u, p string) sasl.Mechanism { return scram.Auth{User: u, Pass: p}.AsSha512Mechanism() }},
	} {
		t.Run(tc.method, func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, testTopic),
				kfake.EnableSASL(), kfake.Superuser(tc.method, "etl", "s3cret"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			addrs := c.ListenAddrs()
			mech := tc.mech("etl", "s3cret")
			produceWith(t, addrs, mech)
			if err := consumeOnce(t, 5, Brokers(addrs...), SASL(mech)); err != nil {
				t.Fatalf("with the right password: %v", err)
			}
			err = consumeOnce(t, 5, Brokers(addrs...), SASL(tc.mech("etl", "wrong-pass")))
			var ce *ConnectError
			if !errors.As(err, &ce) || ce.Mechanism != tc.method || !strings.Contains(err.Error(), "check the credentials") {
				t.Fatalf("with a wrong password Run = %v, want a *ConnectError naming %s", err, tc.method)
			}
			if strings.Contains(err.Error(), "wrong-pass") {
				t.Errorf("error %q leaks the password", err)
			}
		})
	}
}

func TestTLS(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kfake"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, testTopic),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	clientTLS := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	addrs := c.ListenAddrs()
	produceWith(t, addrs, nil, clientTLS)
	if err := consumeOnce(t, 5, Brokers(addrs...), TLS(clientTLS)); err != nil {
		t.Fatal(err)
	}
}

func produceWith(t *testing.T, addrs []string, mech sasl.Mechanism, tlsCfg ...*tls.Config) {
	t.Helper()
	opts := []kgo.Opt{kgo.SeedBrokers(addrs...)}
	if mech != nil {
		opts = append(opts, kgo.SASL(mech))
	}
	if len(tlsCfg) > 0 {
		opts = append(opts, kgo.DialTLSConfig(tlsCfg[0]))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := range 5 {
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: testTopic, Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}
