package config

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"time"
)

// Setting is one job setting: a spec key, the Job field it fills, its
// default and how its values are checked. Settings lists them all, and
// everything else about a setting derives from that list: Default, the
// spec decoder's keys (gen/spec), the JSON Schema's properties for them,
// the runtime's flags and environment variables (runtime/settings.go),
// --help and the README's table of settings. Adding a setting is one
// entry there and the Job field it fills.
type Setting struct {
	// Key is the spec key ("batch.interval"); for a setting the spec does
	// not have (NotInSpec) a key in the same shape. The flag and the
	// environment variable derive from it (FlagName, EnvName).
	Key string
	// Value is where the setting lives in a Job: a pointer to a string,
	// []string, time.Duration, int, int64, float64, bool,
	// map[string]string, StartPosition or one of this package's enums.
	Value func(*Job) any
	// Default is the value of a Job that does not set it, of the type
	// Value points to; nil is that type's zero value.
	Default any
	// Help is the setting's one-line documentation: --help's, the JSON
	// Schema's description and the README table's.
	Help string
	// Secret values are never printed: not as defaults in --help, not in
	// logs, not in error messages.
	Secret bool
	// Positive numbers and durations only; every other one must be >= 0.
	Positive bool
	// Words are the values a string setting takes besides a ${VAR}
	// reference, when they are a fixed list ("" may be one). The enums
	// list their own (Names).
	Words []string
	// EmptyMeans is what "" means among Words, for messages: "no SASL".
	EmptyMeans string
	// Format is the check of a string value, when it is not free text.
	Format Format
	// NotInSpec settings are the running job's only: the job never takes
	// them from the spec (its registry credentials: the spec's keys of
	// those names are the generator's, for reading the schemas).
	NotInSpec bool
	// Wired settings are the spec's only: the generated Run is built for
	// them (the store and the sink it makes, the order of a batch's
	// steps), so the running job has no flag for them; changing one is
	// changing the spec and generating again.
	Wired bool
	// Aliases are older flag names still accepted.
	Aliases []string
}

// Format is what a string setting's value must look like; a value holding
// a ${VAR} reference is checked once expanded, by the job.
type Format int

const (
	// FreeText is any string.
	FreeText Format = iota
	// NonEmpty is any string but "".
	NonEmpty
	// HostPort is host:port.
	HostPort
	// HostPortOrOff is host:port, or "" for off.
	HostPortOrOff
	// Topic is a Kafka topic name.
	Topic
	// TableName is a PostgreSQL table, table or schema.table.
	TableName
)

// Settings are the job's settings, in --help's order. The returned slice
// is the caller's: a test may append a setting to see it reach every
// place that derives from the list.
func Settings() []Setting { return slices.Clone(settings) }

var settings = []Setting{
	{Key: "kafka.brokers", Value: func(j *Job) any { return &j.Brokers }, Default: []string{"localhost:9092"}, Help: "Kafka bootstrap brokers, comma-separated host:port", Format: HostPort},
	{Key: "kafka.group", Value: func(j *Job) any { return &j.Group }, Help: "consumer group id; the spec's default is the job name, and a stream that uses assign with offsets.store kafka needs one written out", Format: NonEmpty},
	{Key: "kafka.startFrom", Value: func(j *Job) any { return &j.StartFrom }, Default: StartCommitted(), Help: "where a partition without a stored offset starts: committed, earliest, latest or timestamp:RFC3339"},
	{Key: "kafka.resetTo", Value: func(j *Job) any { return &j.ResetTo }, Default: ResetEarliest, Help: "where a missing or out-of-range stored offset restarts"},
	{Key: "kafka.isolation", Value: func(j *Job) any { return &j.Isolation }, Default: ReadCommitted, Help: "how transactional records are read"},
	{Key: "kafka.instanceId", Value: func(j *Job) any { return &j.InstanceID }, Help: "static group membership id, stable across restarts (the pod name): a restarted replica takes its partitions back at once; \"\" = dynamic membership"},
	{Key: "kafka.sessionTimeout", Value: func(j *Job) any { return &j.SessionTimeout }, Default: 45 * time.Second, Help: "how long the group waits for a silent member before moving its partitions; the broker bounds it (group.min.session.timeout.ms)", Positive: true},
	{Key: "kafka.outageLimit", Value: func(j *Job) any { return &j.OutageLimit }, Default: 5 * time.Minute, Help: "how long the job rides out failing Kafka requests, or a schema registry that does not answer, before it fails, 0 = never"},
	{Key: "kafka.tls.enabled", Value: func(j *Job) any { return &j.TLS }, Help: "TLS to the brokers"},
	{Key: "kafka.tls.ca", Value: func(j *Job) any { return &j.TLSCA }, Help: "PEM file of the CA the brokers' certificates are verified with; default the system's"},
	{Key: "kafka.tls.cert", Value: func(j *Job) any { return &j.TLSCert }, Help: "PEM file of the client certificate, with --tls-key"},
	{Key: "kafka.tls.key", Value: func(j *Job) any { return &j.TLSKey }, Help: "PEM file of the client certificate's key"},
	{Key: "kafka.tls.insecureSkipVerify", Value: func(j *Job) any { return &j.TLSInsecureSkipVerify }, Help: "do not verify the brokers' certificates"},
	{Key: "kafka.sasl.mechanism", Value: func(j *Job) any { return &j.SASLMechanism }, Help: `SASL mechanism: "" (none), PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512`, Words: []string{"", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}, EmptyMeans: "no SASL"},
	{Key: "kafka.sasl.username", Value: func(j *Job) any { return &j.SASLUsername }, Help: "SASL user"},
	{Key: "kafka.sasl.password", Value: func(j *Job) any { return &j.SASLPassword }, Help: "SASL password", Secret: true},

	{Key: "schemas.registry.url", Value: func(j *Job) any { return &j.RegistryURL }, Help: "schema registry URL", Aliases: []string{"registry"}},
	{Key: "schemas.registry.username", Value: func(j *Job) any { return &j.RegistryUsername }, Help: "schema registry basic-auth user; default SCHEMA_REGISTRY_USERNAME", NotInSpec: true},
	{Key: "schemas.registry.password", Value: func(j *Job) any { return &j.RegistryPassword }, Help: "schema registry basic-auth password; default SCHEMA_REGISTRY_PASSWORD", Secret: true, NotInSpec: true},
	{Key: "schemas.registry.token", Value: func(j *Job) any { return &j.RegistryToken }, Help: "schema registry bearer token, instead of user and password; default SCHEMA_REGISTRY_TOKEN", Secret: true, NotInSpec: true},
	{Key: "schemas.registry.tls.ca", Value: func(j *Job) any { return &j.RegistryCA }, Help: "PEM file of the CA the registry's certificate is verified with"},
	{Key: "schemas.registry.tls.cert", Value: func(j *Job) any { return &j.RegistryCert }, Help: "PEM file of the registry client certificate"},
	{Key: "schemas.registry.tls.key", Value: func(j *Job) any { return &j.RegistryKey }, Help: "PEM file of the registry client certificate's key"},
	{Key: "schemas.registry.tls.insecureSkipVerify", Value: func(j *Job) any { return &j.RegistryInsecureSkipVerify }, Help: "do not verify the registry's certificate"},

	{Key: "batch.interval", Value: func(j *Job) any { return &j.BatchInterval }, Default: 5 * time.Second, Help: "time between batches", Positive: true, Aliases: []string{"interval"}},
	{Key: "batch.maxRatePerPartition", Value: func(j *Job) any { return &j.MaxRatePerPartition }, Help: "records per second per partition, 0 = unlimited", Aliases: []string{"max-rate"}},
	{Key: "batch.minRatePerPartition", Value: func(j *Job) any { return &j.MinRatePerPartition }, Default: int64(1), Help: "floor of the per-partition rate under backpressure, <= batch.maxRatePerPartition when that is set"},
	{Key: "batch.backpressure.enabled", Value: func(j *Job) any { return &j.Backpressure }, Help: "adapt the rate to the processing time (PID estimator)"},
	{Key: "batch.backpressure.initialRate", Value: func(j *Job) any { return &j.BackpressureInitialRate }, Help: "backpressure's first rate, 0 = max rate"},
	{Key: "batch.backpressure.proportional", Value: func(j *Job) any { return &j.BackpressureProportional }, Default: 1.0, Help: "PID proportional gain"},
	{Key: "batch.backpressure.integral", Value: func(j *Job) any { return &j.BackpressureIntegral }, Default: 0.2, Help: "PID integral gain"},
	{Key: "batch.backpressure.derived", Value: func(j *Job) any { return &j.BackpressureDerived }, Default: 0.0, Help: "PID derivative gain"},
	{Key: "batch.backpressure.minRate", Value: func(j *Job) any { return &j.BackpressureMinRate }, Default: int64(100), Help: "backpressure's lowest rate, records/s", Positive: true},

	{Key: "location.strategy", Value: func(j *Job) any { return &j.Location }, Default: LocationConsistent, Help: "which worker runs which partition"},
	{Key: "location.fixed", Value: func(j *Job) any { return &j.LocationFixed }, Help: "with location fixed: topic/partition=instance, comma-separated"},
	{Key: "workers", Value: func(j *Job) any { return &j.Workers }, Help: "partition tasks run at once, 0 = GOMAXPROCS"},
	{Key: "semantics", Value: func(j *Job) any { return &j.Semantics }, Default: AtLeastOnce, Help: "delivery guarantee; exactly-once needs a transactional sink (files, postgres, kafka or blob) whose store keeps the offsets too", Wired: true},

	{Key: "offsets.store", Value: func(j *Job) any { return &j.OffsetsStore }, Default: StoreKafka, Help: "where the offsets are kept; with exactly-once the spec's default is the sink's store", Wired: true},
	{Key: "offsets.dsn", Value: func(j *Job) any { return &j.OffsetsDSN }, Help: "PostgreSQL DSN of the offsets store; default the postgres sink's", Secret: true},
	{Key: "offsets.dir", Value: func(j *Job) any { return &j.OffsetsDir }, Help: "directory of the files offsets store; default the files sink's"},
	{Key: "offsets.table", Value: func(j *Job) any { return &j.OffsetsTable }, Default: "streamgen_offsets", Help: "PostgreSQL table of the offsets, table or schema.table", Format: TableName},
	{Key: "sink.type", Value: func(j *Job) any { return &j.SinkType }, Default: SinkNone, Help: "where ProcessBatch output goes: none (the handler writes its own), files (needs sink.dir), postgres (needs sink.dsn and sink.table), kafka (needs sink.topic) or blob (needs sink.url)", Wired: true},
	{Key: "sink.dir", Value: func(j *Job) any { return &j.SinkDir }, Help: "directory of the files sink"},
	{Key: "sink.url", Value: func(j *Job) any { return &j.SinkURL }, Help: "location of the blob sink: file:///DIR, s3://BUCKET?region=R (endpoint=URL&use_path_style=true for S3-compatible stores), gs://BUCKET or azblob://CONTAINER; credentials from the environment"},
	{Key: "sink.format", Value: func(j *Job) any { return &j.SinkFormat }, Default: "avro", Help: "format of the blob sink's objects: avro or parquet", Words: []string{"avro", "parquet"}},
	{Key: "sink.partitionBy", Value: func(j *Job) any { return &j.SinkPartitionBy }, Help: "Hive partition levels of the blob sink, comma-separated: FIELD (FIELD=VALUE/), FIELD:day (dt=YYYY-MM-DD/) or FIELD:hour (dt=.../hour=HH/) of a record field"},
	{Key: "sink.roll.maxRecords", Value: func(j *Job) any { return &j.SinkRollMaxRecords }, Default: int64(1_000_000), Help: "the blob sink keeps a file per Hive partition and Kafka partition open across batches and publishes it once it holds this many records, 0 = no limit; every sink.roll setting 0 = a file per batch"},
	{Key: "sink.roll.maxBytes", Value: func(j *Job) any { return &j.SinkRollMaxBytes }, Default: int64(128 << 20), Help: "publish a blob sink file once its records' Avro size (before compression) reaches this many bytes, 0 = no limit"},
	{Key: "sink.roll.maxOpen", Value: func(j *Job) any { return &j.SinkRollMaxOpen }, Default: 90 * time.Minute, Help: "publish a blob sink file open this long (wall time) at the end of the next batch, 0 = no limit; bounds what a restart reads again; keep it above an hour plus sink.roll.lateness with hourly partitions, or the wall clock cuts the hours"},
	{Key: "sink.roll.lateness", Value: func(j *Job) any { return &j.SinkRollLateness }, Default: 5 * time.Minute, Help: "with a time level in sink.partitionBy, publish an hour's or day's file once the partition's records are this far past its end (record time), so late records join it"},
	{Key: "sink.roll.maxOpenFiles", Value: func(j *Job) any { return &j.SinkRollMaxOpenFiles }, Default: 64, Help: "blob sink files open at once, 0 = no limit: past it the oldest are published; each holds an upload buffer and an Avro block or a Parquet row group in memory"},
	{Key: "sink.dsn", Value: func(j *Job) any { return &j.SinkDSN }, Help: "PostgreSQL DSN of the postgres sink", Secret: true},
	{Key: "sink.table", Value: func(j *Job) any { return &j.SinkTable }, Help: "table of the postgres sink", Format: TableName},
	{Key: "sink.topic", Value: func(j *Job) any { return &j.SinkTopic }, Help: "topic of the kafka sink", Format: Topic},
	{Key: "sink.transactionalId", Value: func(j *Job) any { return &j.SinkTransactionalID }, Help: "transactional id of the kafka sink with exactly-once, one per instance and kept across its restarts; \"\" = the group and a random suffix"},

	{Key: "retries.maxFailures", Value: func(j *Job) any { return &j.MaxFailures }, Default: 4, Help: "tries of a partition task before its batch fails (at-least-once, and exactly-once with the files sink); an error ProcessBatch returns itself is not retried", Positive: true},
	{Key: "retries.backoff", Value: func(j *Job) any { return &j.RetryBackoff }, Default: time.Second, Help: "first wait between tries, doubling up to 10s"},
	{Key: "onDecodeError", Value: func(j *Job) any { return &j.OnDecodeError }, Default: FailOnDecodeError, Help: "what happens to a record that cannot be decoded"},
	{Key: "deadLetterTopic", Value: func(j *Job) any { return &j.DeadLetterTopic }, Help: "topic the undecodable records go to, with onDecodeError dead-letter and only then", Format: Topic},
	{Key: "shutdown.timeout", Value: func(j *Job) any { return &j.ShutdownTimeout }, Help: "bound of a graceful stop (the in-flight batch, then a rolling blob sink publishing its open files), 0 = 10 x batch interval: past it what is not stored or published is read again on restart"},
	{Key: "status.addr", Value: func(j *Job) any { return &j.StatusAddr }, Default: ":8080", Help: `address of the status server; "" turns it off`, Format: HostPortOrOff},
}

// Default returns the defaults of every setting, as Settings gives them.
// The spec loader starts from it, the engine's own defaults are taken
// from it, and the generated DefaultConfig starts from it and sets only
// what the spec says. Group has no default here: the spec's is the job
// name.
func Default() Job { return DefaultOf(settings) }

// DefaultOf is the Job that holds the default of each of table's
// settings. Lists and maps are copies, so no two Jobs share one.
func DefaultOf(table []Setting) Job {
	var j Job
	for _, s := range table {
		s.SetDefault(&j)
	}
	return j
}

// SetDefault sets the setting's value in j to its default.
func (s Setting) SetDefault(j *Job) {
	dst := reflect.ValueOf(s.Value(j)).Elem()
	switch d := s.Default.(type) {
	case nil:
		dst.SetZero()
	case []string:
		dst.Set(reflect.ValueOf(slices.Clone(d)))
	case map[string]string:
		dst.Set(reflect.ValueOf(maps.Clone(d)))
	default:
		v := reflect.ValueOf(d)
		if v.Type() != dst.Type() {
			panic(fmt.Sprintf("config: setting %s: default of type %s for a field of type %s", s.Key, v.Type(), dst.Type()))
		}
		dst.Set(v)
	}
}

// DefaultValue is the setting's default, of the type Value points to.
func (s Setting) DefaultValue() any {
	var j Job
	s.SetDefault(&j)
	return reflect.ValueOf(s.Value(&j)).Elem().Interface()
}

// EnumWords are the words an enum setting takes (its type's Names), or
// its Words; nil for other settings.
func (s Setting) EnumWords() []string {
	if n, ok := s.Value(&Job{}).(interface{ Names() []string }); ok {
		return n.Names()
	}
	return s.Words
}

// Field is the name of the Job field the setting fills, "" when Value
// points elsewhere (a test's setting).
func (s Setting) Field() string {
	var j Job
	p := reflect.ValueOf(s.Value(&j)).Pointer()
	v := reflect.ValueOf(&j).Elem()
	for i := range v.NumField() {
		if v.Field(i).Addr().Pointer() == p {
			return v.Type().Field(i).Name
		}
	}
	return ""
}
