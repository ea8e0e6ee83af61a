package runtime

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/streamgen/streamgen/runtime/envsubst"
)

// JobConfig is the configuration of a generated job. Every generated
// package's Config embeds it and its DefaultConfig fills it from the spec,
// so each key means the same in every job and is documented here once.
// String fields marked "runtime value" may hold ${VAR} or ${VAR:-default}
// until ExpandEnv runs at start-up.
type JobConfig struct {
	// Brokers are the Kafka bootstrap brokers (kafka.brokers); an entry may
	// be a comma-separated list. Runtime value.
	Brokers []string
	// Group is the consumer group id (kafka.group). Runtime value.
	Group string
	// RegistryURL is the schema registry (schemas.registry.url). Runtime value.
	RegistryURL string
	// RegistryUsername and RegistryPassword are HTTP basic auth for the
	// registry, RegistryToken a bearer token instead (runtime values,
	// never printed). The spec's generation-time credentials are not
	// baked into the job: empty values are taken from the environment
	// variables SCHEMA_REGISTRY_USERNAME, SCHEMA_REGISTRY_PASSWORD and
	// SCHEMA_REGISTRY_TOKEN at start-up.
	RegistryUsername, RegistryPassword, RegistryToken string
	// RegistryCA, RegistryCert and RegistryKey are PEM files for an https
	// registry with a private CA or client certificates (runtime values);
	// RegistryInsecureSkipVerify skips verification.
	RegistryCA, RegistryCert, RegistryKey string
	RegistryInsecureSkipVerify            bool
	// StartFrom is committed, earliest, latest or timestamp:RFC3339.
	StartFrom string
	// ResetTo is where StartFrom committed begins on a partition with no
	// committed offset: earliest, latest or error.
	ResetTo string
	// Isolation is read_committed or read_uncommitted.
	Isolation string
	// TLS enables TLS to the brokers; TLSCA, TLSCert and TLSKey are PEM
	// files (runtime values); TLSInsecureSkipVerify skips verification.
	TLS                   bool
	TLSCA, TLSCert        string
	TLSKey                string
	TLSInsecureSkipVerify bool
	// SASLMechanism is "", PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, with
	// SASLUsername and SASLPassword (runtime values; the password is never
	// logged or printed).
	SASLMechanism, SASLUsername, SASLPassword string
	// BatchInterval is the time between batches.
	BatchInterval time.Duration
	// MaxRatePerPartition caps records per second per partition; 0 = none.
	MaxRatePerPartition int64
	// MinRatePerPartition is the floor of the per-partition rate.
	MinRatePerPartition int64
	// Backpressure adapts the rate to processing time with a PID estimator
	// (BackpressureProportional, Integral, Derived, MinRate), starting at
	// BackpressureInitialRate (0 = MaxRatePerPartition).
	Backpressure                                                        bool
	BackpressureInitialRate                                             int64
	BackpressureProportional, BackpressureIntegral, BackpressureDerived float64
	BackpressureMinRate                                                 int64
	// PollTimeout bounds a fetch of a batch's range.
	PollTimeout time.Duration
	// Location is consistent, brokers or fixed; LocationFixed maps
	// "topic/partition" to a worker or instance for fixed.
	Location      string
	LocationFixed map[string]string
	// Workers is the number of partition tasks run at once; 0 = GOMAXPROCS.
	Workers int
	// Semantics is at-most-once, at-least-once or exactly-once.
	Semantics string
	// OffsetsStore is kafka, postgres or files; OffsetsDSN and OffsetsDir
	// configure the latter two (runtime values).
	OffsetsStore, OffsetsDSN, OffsetsDir string
	// SinkType is none, files, postgres or kafka, with SinkDir, SinkDSN,
	// SinkTable and SinkTopic (runtime values).
	SinkType, SinkDir, SinkDSN, SinkTable, SinkTopic string
	// MaxFailures is how often a partition task is tried before its batch
	// fails; RetryBackoff the first wait between tries (doubling).
	MaxFailures  int
	RetryBackoff time.Duration
	// OnDecodeError is fail, skip or dead-letter; DeadLetterTopic receives
	// undecodable records (runtime value).
	OnDecodeError, DeadLetterTopic string
	// GracefulShutdown finishes and commits the in-flight batch on stop,
	// within ShutdownTimeout (0 = 10 x BatchInterval).
	GracefulShutdown bool
	ShutdownTimeout  time.Duration
	// StatusAddr is where Main serves status and health; "" = off.
	// Runtime value.
	StatusAddr string

	// EngineOptions are added to the options the configuration implies:
	// listeners, kgo options, anything the spec does not cover.
	EngineOptions []Opt

	expandErr error
	// registryFromEnv: the registry credentials came from the
	// environment, verbatim, and ExpandEnv leaves them alone.
	registryFromEnv bool
}

// runtimeValues are the fields that may hold ${VAR} references.
func (c *JobConfig) runtimeValues() map[string]*string {
	m := map[string]*string{
		"Group": &c.Group, "RegistryURL": &c.RegistryURL, "TLSCA": &c.TLSCA, "TLSCert": &c.TLSCert,
		"TLSKey": &c.TLSKey, "SASLUsername": &c.SASLUsername, "SASLPassword": &c.SASLPassword,
		"OffsetsDSN": &c.OffsetsDSN, "OffsetsDir": &c.OffsetsDir, "SinkDir": &c.SinkDir,
		"SinkDSN": &c.SinkDSN, "SinkTable": &c.SinkTable, "SinkTopic": &c.SinkTopic,
		"DeadLetterTopic": &c.DeadLetterTopic, "StatusAddr": &c.StatusAddr,
		"RegistryCA": &c.RegistryCA, "RegistryCert": &c.RegistryCert, "RegistryKey": &c.RegistryKey,
	}
	if !c.registryFromEnv { // secrets taken from the environment are not templates
		m["RegistryUsername"], m["RegistryPassword"], m["RegistryToken"] = &c.RegistryUsername, &c.RegistryPassword, &c.RegistryToken
	}
	return m
}

// ExpandEnv expands ${VAR} and ${VAR:-default} in the runtime values, in
// place. Brokers entries are split at commas after expansion. A reference
// that cannot be expanded is kept for Validate to report (by field and
// variable name, never by value).
func (c *JobConfig) ExpandEnv(lookup func(string) (string, bool)) {
	var errs []error
	for name, p := range c.runtimeValues() {
		v, err := envsubst.Expand(*p, lookup)
		if err != nil {
			if _, unset := errors.AsType[*envsubst.UnsetError](err); !unset && secretValues[name] {
				// The error would quote part of the value.
				err = errors.New("not a valid ${VAR} template (the value is a secret and not shown)")
			}
			errs = append(errs, fmt.Errorf("config %s: %w", name, err))
			continue
		}
		*p = v
	}
	var brokers []string
	for _, b := range c.Brokers {
		v, err := envsubst.Expand(b, lookup)
		if err != nil {
			errs = append(errs, fmt.Errorf("config Brokers: %w", err))
			continue
		}
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				brokers = append(brokers, s)
			}
		}
	}
	c.Brokers = brokers
	c.expandErr = errors.Join(errs...)
	c.registryCredentialsFromEnv(lookup) // after: secrets are not templates
}

// secretValues are the runtime values never to be shown, even in part.
var secretValues = map[string]bool{"SASLPassword": true, "RegistryPassword": true, "RegistryToken": true}

// registryCredentialsFromEnv fills in the registry credentials from
// SCHEMA_REGISTRY_TOKEN, or SCHEMA_REGISTRY_USERNAME and _PASSWORD, when
// the configuration sets none of them. The values are taken as they are:
// they are secrets, not templates, so ${...} in them is not expanded.
func (c *JobConfig) registryCredentialsFromEnv(lookup func(string) (string, bool)) {
	if c.RegistryToken != "" || c.RegistryUsername != "" || c.RegistryPassword != "" {
		return
	}
	c.registryFromEnv = true
	if tok, _ := lookup("SCHEMA_REGISTRY_TOKEN"); tok != "" {
		c.RegistryToken = tok
		return
	}
	c.RegistryUsername, _ = lookup("SCHEMA_REGISTRY_USERNAME")
	c.RegistryPassword, _ = lookup("SCHEMA_REGISTRY_PASSWORD")
}

// Validate reports values the job cannot run with, and references
// ExpandEnv could not expand.
func (c *JobConfig) Validate() error {
	errs := []error{c.expandErr}
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("config Brokers: no broker given (set --brokers or KAFKA_BROKERS)"))
	}
	if c.BatchInterval <= 0 {
		errs = append(errs, fmt.Errorf("config BatchInterval: %v is not positive", c.BatchInterval))
	}
	if c.MaxRatePerPartition < 0 {
		errs = append(errs, fmt.Errorf("config MaxRatePerPartition: %d is negative", c.MaxRatePerPartition))
	}
	if _, err := c.startPosition(); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.resetPolicy(); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.semantics(); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.location(); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.decodePolicy(); err != nil {
		errs = append(errs, err)
	}
	if c.RegistryToken != "" && (c.RegistryUsername != "" || c.RegistryPassword != "") {
		errs = append(errs, errors.New("config RegistryToken: set either a token or a username and password for the schema registry, not both"))
	}
	return errors.Join(errs...)
}

func (c *JobConfig) startPosition() (StartPosition, error) {
	switch s := c.StartFrom; {
	case s == "" || s == "committed":
		return StartCommitted(), nil
	case s == "earliest":
		return StartEarliest(), nil
	case s == "latest":
		return StartLatest(), nil
	case strings.HasPrefix(s, "timestamp:"):
		t, err := time.Parse(time.RFC3339, strings.TrimPrefix(s, "timestamp:"))
		if err != nil {
			return StartPosition{}, fmt.Errorf("config StartFrom: %q: %w", s, err)
		}
		return StartAt(t), nil
	default:
		return StartPosition{}, fmt.Errorf("config StartFrom: %q is not committed, earliest, latest or timestamp:RFC3339", s)
	}
}

func (c *JobConfig) resetPolicy() (ResetPolicy, error) {
	switch c.ResetTo {
	case "", "earliest":
		return ResetEarliest, nil
	case "latest":
		return ResetLatest, nil
	case "error":
		return ResetError, nil
	}
	return 0, fmt.Errorf("config ResetTo: %q is not earliest, latest or error", c.ResetTo)
}

func (c *JobConfig) semantics() (Semantics, error) {
	switch c.Semantics {
	case "", "at-least-once":
		if c.OffsetsStore != "" && c.OffsetsStore != "kafka" {
			return 0, fmt.Errorf("config OffsetsStore: %q is not supported by this runtime yet; at-least-once keeps offsets in Kafka", c.OffsetsStore)
		}
		return AtLeastOnce, nil
	case "at-most-once", "exactly-once":
		return 0, fmt.Errorf("config Semantics: %q is not supported by this runtime yet; use at-least-once", c.Semantics)
	}
	return 0, fmt.Errorf("config Semantics: %q is not at-most-once, at-least-once or exactly-once", c.Semantics)
}

func (c *JobConfig) location() (LocationStrategy, error) {
	switch c.Location {
	case "", "consistent":
		return PreferConsistent(), nil
	case "brokers":
		return PreferBrokers(), nil
	case "fixed":
		m := map[TopicPartition]string{}
		for k, v := range c.LocationFixed {
			i := strings.LastIndexByte(k, '/')
			p, err := strconv.ParseInt(k[i+1:], 10, 32)
			if i <= 0 || err != nil {
				return LocationStrategy{}, fmt.Errorf("config LocationFixed: key %q is not topic/partition", k)
			}
			m[TopicPartition{Topic: k[:i], Partition: int32(p)}] = v
		}
		return PreferFixed(m), nil
	}
	return LocationStrategy{}, fmt.Errorf("config Location: %q is not consistent, brokers or fixed", c.Location)
}

// EngineOpts turns the configuration into engine options.
func (c *JobConfig) EngineOpts() ([]Opt, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	start, err := c.startPosition()
	if err != nil {
		return nil, err
	}
	reset, err := c.resetPolicy()
	if err != nil {
		return nil, err
	}
	sem, err := c.semantics()
	if err != nil {
		return nil, err
	}
	opts := []Opt{
		Brokers(c.Brokers...),
		Group(c.Group),
		StartFrom(start),
		ResetTo(reset),
		WithSemantics(sem),
		BatchInterval(c.BatchInterval),
		Workers(c.Workers),
		MaxRatePerPartition(c.MaxRatePerPartition),
		MinRatePerPartition(c.MinRatePerPartition),
	}
	if c.Backpressure {
		opts = append(opts, Backpressure(c.BackpressureInitialRate),
			PIDParams(c.BackpressureProportional, c.BackpressureIntegral, c.BackpressureDerived, float64(c.BackpressureMinRate)))
	}
	if c.MaxFailures > 0 {
		opts = append(opts, MaxTaskFailures(c.MaxFailures))
	}
	if c.RetryBackoff > 0 {
		opts = append(opts, TaskRetryBackoff(c.RetryBackoff))
	}
	if c.ShutdownTimeout > 0 {
		opts = append(opts, ShutdownTimeout(c.ShutdownTimeout))
	}
	if c.Isolation == "" || c.Isolation == "read_committed" {
		opts = append(opts, ReadCommitted())
	} else if c.Isolation != "read_uncommitted" {
		return nil, fmt.Errorf("config Isolation: %q is not read_committed or read_uncommitted", c.Isolation)
	}
	opts = append(opts, c.EngineOptions...)
	if c.TLS {
		tc, err := c.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, TLS(tc))
	}
	if c.SASLMechanism != "" {
		m, err := c.saslMechanism()
		if err != nil {
			return nil, err
		}
		opts = append(opts, SASL(m))
	}
	return opts, nil
}

// StreamOpts turns the configuration into the options every stream of the
// job shares.
func (c *JobConfig) StreamOpts() ([]StreamOpt, error) {
	loc, err := c.location()
	if err != nil {
		return nil, err
	}
	bad, err := c.decodePolicy()
	if err != nil {
		return nil, err
	}
	opts := []StreamOpt{Location(loc), OnDecodeError(bad)}
	if bad == DeadLetterBadRecords {
		opts = append(opts, DeadLetterTopic(c.DeadLetterTopic))
	}
	return opts, nil
}

func (c *JobConfig) decodePolicy() (DecodePolicy, error) {
	switch c.OnDecodeError {
	case "", "fail":
		return FailOnDecodeError, nil
	case "skip":
		return SkipBadRecords, nil
	case "dead-letter":
		if c.DeadLetterTopic == "" {
			return 0, errors.New("config OnDecodeError: dead-letter needs DeadLetterTopic")
		}
		return DeadLetterBadRecords, nil
	}
	return 0, fmt.Errorf("config OnDecodeError: %q is not fail, skip or dead-letter", c.OnDecodeError)
}

// RegistryOpts are the schema registry client options of the
// configuration: its credentials and TLS files.
func (c *JobConfig) RegistryOpts() ([]sr.ClientOpt, error) {
	var opts []sr.ClientOpt
	switch {
	case c.RegistryToken != "":
		opts = append(opts, sr.BearerToken(c.RegistryToken))
	case c.RegistryUsername != "" || c.RegistryPassword != "":
		opts = append(opts, sr.BasicAuth(c.RegistryUsername, c.RegistryPassword))
	}
	files := TLSFiles{CA: c.RegistryCA, Cert: c.RegistryCert, Key: c.RegistryKey, InsecureSkipVerify: c.RegistryInsecureSkipVerify}
	if !files.IsZero() {
		tc, err := files.Config()
		if err != nil {
			return nil, fmt.Errorf("config Registry TLS: %w", err)
		}
		opts = append(opts, RegistryHTTPClient(tc))
	}
	return opts, nil
}

func (c *JobConfig) tlsConfig() (*tls.Config, error) {
	tc, err := TLSFiles{CA: c.TLSCA, Cert: c.TLSCert, Key: c.TLSKey, InsecureSkipVerify: c.TLSInsecureSkipVerify}.Config()
	if err != nil {
		return nil, fmt.Errorf("config TLS: %w", err)
	}
	return tc, nil
}

// TLSFiles is a TLS configuration from PEM files: a CA to verify the
// server with (default: the system's roots) and a client certificate.
type TLSFiles struct {
	CA, Cert, Key      string
	InsecureSkipVerify bool
}

// Config reads the files into a tls.Config (TLS 1.2 or later).
func (f TLSFiles) Config() (*tls.Config, error) {
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
func (f TLSFiles) IsZero() bool { return f == TLSFiles{} }

func (c *JobConfig) saslMechanism() (sasl.Mechanism, error) {
	if c.SASLUsername == "" {
		return nil, fmt.Errorf("config SASLUsername: empty with mechanism %s", c.SASLMechanism)
	}
	switch strings.ToUpper(c.SASLMechanism) {
	case "PLAIN":
		return plain.Auth{User: c.SASLUsername, Pass: c.SASLPassword}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: c.SASLUsername, Pass: c.SASLPassword}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512":
		return scram.Auth{User: c.SASLUsername, Pass: c.SASLPassword}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("config SASLMechanism: %q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.SASLMechanism)
}
