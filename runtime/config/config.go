// Package config is the configuration of a streamgen job, defined once:
// the typed settings, their defaults (Default) and what the runtime can
// run today (Unsupported). The generator reads streamgen.yaml into it and
// writes the spec's values into the generated DefaultConfig; the runtime
// (runtime.JobConfig embeds Job) turns it into engine options. It depends
// on neither, so the generator does not link the Kafka client.
package config

import (
	"fmt"
	"time"
)

// Job is a job's configuration. Field comments name the spec key each
// field comes from. String fields marked "runtime value" may hold ${VAR}
// or ${VAR:-default} until the job expands them at start-up.
type Job struct {
	// Brokers are the Kafka bootstrap brokers (kafka.brokers); an entry may
	// be a comma-separated list. Runtime value.
	Brokers []string
	// Group is the consumer group id (kafka.group; the spec's default is
	// the job name). Runtime value.
	Group string
	// RegistryURL is the schema registry (schemas.registry.url). Runtime
	// value.
	RegistryURL string
	// RegistryUsername and RegistryPassword are HTTP basic auth for the
	// registry, RegistryToken a bearer token instead (runtime values,
	// never printed). The spec's generation-time credentials are not
	// baked into the job: Main takes them from its flags or the job's
	// variables (--registry-password, <JOB>_REGISTRY_PASSWORD, ...), else
	// from SCHEMA_REGISTRY_USERNAME, SCHEMA_REGISTRY_PASSWORD,
	// SCHEMA_REGISTRY_TOKEN.
	RegistryUsername, RegistryPassword, RegistryToken string
	// RegistryCA, RegistryCert and RegistryKey are PEM files for an https
	// registry with a private CA or client certificates
	// (schemas.registry.tls; runtime values); RegistryInsecureSkipVerify
	// skips verification.
	RegistryCA, RegistryCert, RegistryKey string
	RegistryInsecureSkipVerify            bool

	// StartFrom is where a partition without a stored offset starts
	// (kafka.startFrom).
	StartFrom StartPosition
	// ResetTo is what happens where the stored offset is missing or out
	// of range (kafka.resetTo).
	ResetTo ResetPolicy
	// Isolation is read_committed or read_uncommitted (kafka.isolation).
	Isolation Isolation
	// TLS enables TLS to the brokers (kafka.tls); TLSCA (default: the
	// system pool), TLSCert and TLSKey (both or neither) are PEM files
	// (runtime values); TLSInsecureSkipVerify skips verification.
	TLS                   bool
	TLSCA, TLSCert        string
	TLSKey                string
	TLSInsecureSkipVerify bool
	// SASLMechanism is "" (no SASL), PLAIN, SCRAM-SHA-256 or
	// SCRAM-SHA-512 (kafka.sasl), which needs SASLUsername and
	// SASLPassword (runtime values; the password is never logged or
	// printed). A runtime value itself, so it stays a string.
	SASLMechanism, SASLUsername, SASLPassword string
	// InstanceID makes the job a static member of its group (KIP-345,
	// kafka.instanceId): a replica restarted under the same id within
	// SessionTimeout gets its partitions back at once, without a
	// rebalance. Each replica needs its own, such as ${POD_NAME} of a
	// StatefulSet. "" = dynamic membership. Runtime value.
	InstanceID string
	// SessionTimeout is how long the group waits for a silent member
	// before giving its partitions to the others (kafka.sessionTimeout),
	// > 0; the broker bounds it (group.min/max.session.timeout.ms).
	SessionTimeout time.Duration
	// OutageLimit is how long requests to the brokers may keep failing
	// before the job gives up and exits (kafka.outageLimit); until then
	// it retries and rides the outage out. 0 = never give up.
	OutageLimit time.Duration

	// BatchInterval is the time between batches (batch.interval), > 0.
	// Buffered memory is bounded by BatchInterval x MaxRatePerPartition x
	// partitions.
	BatchInterval time.Duration
	// MaxRatePerPartition caps records per second per partition; 0 = no
	// cap (batch.maxRatePerPartition).
	MaxRatePerPartition int64
	// MinRatePerPartition is the floor of the per-partition rate
	// (batch.minRatePerPartition), <= MaxRatePerPartition when that is
	// set: backpressure cannot starve a partition below it.
	MinRatePerPartition int64
	// Backpressure adapts the rate to processing time with a PID estimator
	// (batch.backpressure: BackpressureProportional, Integral, Derived,
	// MinRate), starting at BackpressureInitialRate (0 =
	// MaxRatePerPartition).
	Backpressure                                                        bool
	BackpressureInitialRate                                             int64
	BackpressureProportional, BackpressureIntegral, BackpressureDerived float64
	BackpressureMinRate                                                 int64

	// Location is the location strategy (location.strategy);
	// LocationFixed maps "topic/partition" to a worker or instance for
	// LocationFixed (location.fixed).
	Location      Location
	LocationFixed map[string]string
	// Workers is the number of partition tasks run at once; 0 =
	// GOMAXPROCS (workers).
	Workers int
	// Semantics is the delivery guarantee (semantics). ExactlyOnce needs
	// a transactional sink (files, postgres, kafka or blob) whose store keeps
	// the offsets too.
	Semantics Semantics
	// OffsetsStore is where offsets are kept (offsets.store; with
	// exactly-once the spec's default is the sink's store), with
	// OffsetsDSN and OffsetsDir for postgres and files (runtime values;
	// the spec's defaults are the sink's DSN and directory).
	OffsetsStore           OffsetsStore
	OffsetsDSN, OffsetsDir string
	// OffsetsTable is the PostgreSQL table of the offsets (offsets.table,
	// "table" or "schema.table"; runtime value), created if missing.
	OffsetsTable string
	// SinkType is where output goes (sink.type), with SinkDir, SinkDSN,
	// SinkTable and SinkTopic (runtime values).
	SinkType                               SinkType
	SinkDir, SinkDSN, SinkTable, SinkTopic string
	// SinkURL is the blob sink's location (sink.url; runtime value),
	// SinkFormat its objects' format (sink.format: avro or parquet) and
	// SinkPartitionBy its Hive partition levels (sink.partitionBy:
	// FIELD, FIELD:day or FIELD:hour each).
	SinkURL, SinkFormat string
	SinkPartitionBy     []string
	// SinkRollMaxRecords, SinkRollMaxBytes, SinkRollMaxOpen,
	// SinkRollLateness and SinkRollMaxOpenFiles are the blob sink's
	// rolling limits (sink.roll.*; runtime values): files stay open
	// across batches until one is reached. All zero: a file per batch.
	SinkRollMaxRecords, SinkRollMaxBytes int64
	SinkRollMaxOpen, SinkRollLateness    time.Duration
	SinkRollMaxOpenFiles                 int
	// SinkTransactionalID is the Kafka sink's transactional id with
	// exactly-once (sink.transactionalId; runtime value): one per
	// instance, kept across its restarts, so that a restarted instance
	// fences its predecessor at once. "" = the group and a random
	// suffix, new at every start.
	SinkTransactionalID string
	// MaxFailures is how often a partition task is tried before its batch
	// fails (retries.maxFailures); RetryBackoff is the first wait between
	// tries, doubling up to 10s (retries.backoff).
	MaxFailures  int
	RetryBackoff time.Duration
	// OnDecodeError is the policy for undecodable records (onDecodeError);
	// DeadLetterTopic receives them with DeadLetterBadRecords
	// (deadLetterTopic; runtime value).
	OnDecodeError   DecodePolicy
	DeadLetterTopic string
	// ShutdownTimeout bounds a stop (shutdown.timeout): the in-flight
	// batch finishes and is stored within it, or is abandoned, unstored,
	// and read again on restart. 0 = 10 x BatchInterval.
	ShutdownTimeout time.Duration
	// StatusAddr is where Main serves status and health; "" = off
	// (status.addr). Runtime value.
	StatusAddr string
}

// SettingError is a setting the runtime cannot run with.
type SettingError struct {
	// Setting is the spec key, such as "sink.type".
	Setting string
	Msg     string
}

func (e *SettingError) Error() string { return e.Setting + ": " + e.Msg }

// Unsupported reports the settings this runtime cannot run yet, each
// naming its spec key, so the generator refuses the spec and the job
// refuses the configuration instead of ignoring the setting. The runtime
// runs at-least-once and at-most-once with offsets in Kafka or PostgreSQL,
// and exactly-once with the PostgreSQL sink (whose transaction holds the
// batch's output and offsets), the files sink (whose published files are
// the offsets) or the Kafka sink (whose transaction holds the batch's
// output and the group's offsets).
func (j *Job) Unsupported() []*SettingError {
	var errs []*SettingError
	switch j.SinkType {
	case SinkKafka:
		if j.OffsetsStore != StoreKafka {
			errs = append(errs, &SettingError{"offsets.store", fmt.Sprintf("%q: the kafka sink commits the offsets itself, as the group's commits in Kafka (in the batch's transaction with exactly-once, after flushing the batch's output otherwise); use offsets.store kafka", j.OffsetsStore)})
		}
	case SinkPostgres:
		if j.Semantics != ExactlyOnce {
			errs = append(errs, &SettingError{"sink.type", fmt.Sprintf("\"postgres\" commits each batch's output together with its offsets, in one transaction: it runs with semantics exactly-once, not %q; for %s, write to PostgreSQL from ProcessBatch (idempotently, keyed by Record.SourceID) and keep the offsets with offsets.store postgres", j.Semantics, j.Semantics)})
		}
	case SinkFiles:
		if j.Semantics != ExactlyOnce {
			errs = append(errs, &SettingError{"sink.type", fmt.Sprintf("\"files\" publishes each partition-batch as one file, and the files on disk are the offsets: it runs with semantics exactly-once, not %q", j.Semantics)})
		}
	case SinkBlob:
		if j.Semantics != ExactlyOnce {
			errs = append(errs, &SettingError{"sink.type", fmt.Sprintf("\"blob\" publishes objects whose claims are the offsets: it runs with semantics exactly-once, not %q", j.Semantics)})
		}
	}
	if j.OffsetsStore == StoreBlob && j.SinkType != SinkBlob {
		errs = append(errs, &SettingError{"offsets.store", "\"blob\" is the blob sink's store: the offsets are its claims; with another sink, use kafka or postgres"})
	}
	if j.OffsetsStore == StoreFiles && j.SinkType != SinkFiles {
		errs = append(errs, &SettingError{"offsets.store", "\"files\" is the files sink's store: the offsets are the files it published; with another sink, use kafka or postgres"})
	}
	return errs
}
