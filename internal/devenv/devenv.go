// Package devenv is the local Kafka and schema registry of streamgen dev:
// franz-go's in-process broker (kfake) and registry (srfake), the same
// peers the tests run against, listening on loopback ports that a job
// started by hand can be pointed at.
package devenv

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// Default ports: Kafka's and the Confluent schema registry's own, which
// are also the defaults the templates' specs fall back on
// (localhost:9092, http://localhost:8081).
const (
	DefaultBrokerPort   = 9092
	DefaultRegistryPort = 8081
)

// Options say where the environment listens and what it holds.
type Options struct {
	// BrokerPort and RegistryPort are loopback ports; 0 picks free ones.
	BrokerPort, RegistryPort int
	// Topics are the topics to create, with their partition counts.
	Topics map[string]int32
	// DataDir, when set, keeps the broker's topics, records and group
	// offsets there (kfake.DataDir) and reloads them at the next start.
	DataDir string
}

// Env is a running broker and registry.
type Env struct {
	cluster  *kfake.Cluster
	srv      *http.Server
	registry string
	// Schemas is a client of the registry.
	Schemas *sr.Client
}

// Start starts the broker with its topics, and the registry.
func Start(o Options) (*Env, error) {
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	if o.BrokerPort != 0 {
		opts = append(opts, kfake.Ports(o.BrokerPort))
	}
	for _, t := range slices.Sorted(maps.Keys(o.Topics)) {
		opts = append(opts, kfake.SeedTopics(o.Topics[t], t))
	}
	if o.DataDir != "" {
		opts = append(opts, kfake.DataDir(o.DataDir))
	}
	// The registry's port first: it fails fast and leaves nothing to stop.
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", o.RegistryPort))
	if err != nil {
		return nil, fmt.Errorf("schema registry: %w (choose another port with -registry-port)", err)
	}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("kafka broker on port %d: %w (choose another port with -port)", o.BrokerPort, err)
	}
	reg := srfake.NewRegistry()
	e := &Env{
		cluster:  cluster,
		srv:      &http.Server{Handler: reg.Handler(), ReadHeaderTimeout: 10 * time.Second},
		registry: "http://" + ln.Addr().String(),
	}
	go e.srv.Serve(ln)
	if e.Schemas, err = sr.NewClient(sr.URLs(e.registry)); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// Brokers is the broker's address, host:port.
func (e *Env) Brokers() string { return e.cluster.ListenAddrs()[0] }

// RegistryURL is the registry's URL.
func (e *Env) RegistryURL() string { return e.registry }

// Register registers schema under subject, as a Confluent serializer does,
// and returns its id (the one it already has when registered before).
func (e *Env) Register(ctx context.Context, subject, schema string) (int, error) {
	s, err := e.Schemas.CreateSchema(ctx, subject, sr.Schema{Schema: schema, Type: sr.TypeAvro})
	if err != nil {
		return 0, fmt.Errorf("register %s: %w", subject, err)
	}
	return s.ID, nil
}

// Close stops the registry and the broker.
func (e *Env) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := e.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = e.srv.Close()
	}
	e.cluster.Close()
	return err
}
