package runtime

import (
	"crypto/tls"
	"encoding"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/streamgen/streamgen/runtime/config"
	"github.com/streamgen/streamgen/runtime/envsubst"
	"github.com/streamgen/streamgen/runtime/tlsfiles"
)

// This file owns JobConfig, a generated job's configuration: its
// validation and the engine options it makes.

// JobConfig is the configuration of a generated job: config.Job, whose
// fields it promotes (cfg.Brokers, cfg.BatchInterval, ...) and which
// documents each one, plus what only a running job has. Every generated
// package's Config embeds it, and its DefaultConfig starts from
// DefaultJobConfig and sets what the spec sets.
type JobConfig struct {
	config.Job

	// EngineOptions are added to the options the configuration implies:
	// listeners, kgo options, anything the spec does not cover.
	EngineOptions []Opt

	// expandErrs are ExpandEnv's errors by field, until a flag or the
	// job's environment variable replaces the field's value; expandRaw
	// is the template each kept, so that a value set in code replaces it
	// too.
	expandErrs map[string]error
	expandRaw  map[string]string
	// specVars are the variables the spec's ${VAR} references read.
	specVars map[string]bool
	// brokerVars are the variables the spec's Brokers referenced, for the
	// hint when there is no broker.
	brokerVars []string
	// envPrefix is the job's EnvPrefix, once Main has read its settings.
	envPrefix string
	// registryFromEnv: the registry credentials came from the
	// environment, verbatim, and ExpandEnv leaves them alone.
	registryFromEnv bool
}

// DefaultJobConfig is a JobConfig holding config.Default.
func DefaultJobConfig() JobConfig { return JobConfig{Job: config.Default()} }

// NewJobConfig is DefaultJobConfig for the job named job: its messages
// name each setting's environment variable (config.EnvName) beside its
// flag and spec key, also when the job runs without Main.
func NewJobConfig(job string) JobConfig {
	c := DefaultJobConfig()
	c.envPrefix = config.EnvPrefix(job)
	return c
}

// runtimeValues are the fields that may hold ${VAR} references.
func (c *JobConfig) runtimeValues() map[string]*string {
	m := map[string]*string{
		"Group": &c.Group, "RegistryURL": &c.RegistryURL, "TLSCA": &c.TLSCA, "TLSCert": &c.TLSCert,
		"TLSKey": &c.TLSKey, "SASLUsername": &c.SASLUsername, "SASLPassword": &c.SASLPassword,
		"OffsetsDSN": &c.OffsetsDSN, "OffsetsDir": &c.OffsetsDir, "OffsetsTable": &c.OffsetsTable, "SinkDir": &c.SinkDir,
		"SinkDSN": &c.SinkDSN, "SinkTable": &c.SinkTable, "SinkTopic": &c.SinkTopic, "SinkTransactionalID": &c.SinkTransactionalID, "SinkURL": &c.SinkURL,
		"DeadLetterTopic": &c.DeadLetterTopic, "StatusAddr": &c.StatusAddr,
		"RegistryCA": &c.RegistryCA, "RegistryCert": &c.RegistryCert, "RegistryKey": &c.RegistryKey,
		"InstanceID": &c.InstanceID,
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
	c.expandErrs, c.expandRaw, c.specVars = map[string]error{}, map[string]string{}, map[string]bool{}
	spec := func(name string) (string, bool) {
		c.specVars[name] = true
		return lookup(name)
	}
	for name, p := range c.runtimeValues() {
		v, err := envsubst.Expand(*p, spec)
		if err != nil {
			if _, unset := errors.AsType[*envsubst.UnsetError](err); !unset && secretValues[name] {
				// The error would quote part of the value.
				err = errors.New("not a valid ${VAR} template (the value is a secret and not shown)")
			}
			c.expandErrs[name], c.expandRaw[name] = err, *p
			continue
		}
		*p = v
	}
	var brokers []string
	var brokerErrs []error
	c.brokerVars = nil
	recorded := func(name string) (string, bool) {
		c.brokerVars = append(c.brokerVars, name)
		return spec(name)
	}
	for _, b := range c.Brokers {
		v, err := envsubst.Expand(b, recorded)
		if err != nil {
			brokerErrs = append(brokerErrs, err)
			continue
		}
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				brokers = append(brokers, s)
			}
		}
	}
	c.Brokers = brokers
	if len(brokerErrs) > 0 {
		c.expandErrs["Brokers"], c.expandRaw["Brokers"] = errors.Join(brokerErrs...), strings.Join(brokers, ",")
	}
	c.registryCredentialsFromEnv(lookup) // after: secrets are not templates
}

// secretValues are the runtime values never to be shown, even in part:
// the fields of the secret settings.
var secretValues = func() map[string]bool {
	t := &target{JobConfig: &JobConfig{}, Log: &logSettings{}}
	m := map[string]bool{}
	for i := range settings {
		if settings[i].secret {
			m[settings[i].fieldName(t)] = true
		}
	}
	return m
}()

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

// Validate reports values the job cannot run with, settings this
// runtime cannot serve yet (config.Job.Unsupported), and references
// ExpandEnv could not expand. Each error names the setting as a user
// gives it: its spec key, flag and environment variable.
func (c *JobConfig) Validate() error {
	var errs []error
	values := c.runtimeValues()
	for _, f := range slices.Sorted(maps.Keys(c.expandErrs)) {
		if c.derivedFromSink(f) {
			continue // the sink's location is checked below, once
		}
		if p, ok := values[f]; ok && *p != c.expandRaw[f] || f == "Brokers" && strings.Join(c.Brokers, ",") != c.expandRaw[f] {
			continue // set since, in code
		}
		if key := fieldKey[f]; exactlyOnceLocation[key] == c.SinkType && c.SinkType != config.SinkNone {
			if _, unset := errors.AsType[*envsubst.UnsetError](c.expandErrs[f]); unset {
				errs = append(errs, c.sinkLocationUnset(key))
				continue
			}
		}
		errs = append(errs, c.settingErr(fieldKey[f], c.expandErrs[f]))
	}
	if len(c.Brokers) == 0 {
		errs = append(errs, fmt.Errorf("kafka.brokers: no broker given (%s)", c.brokersHint()))
	}
	for key, sink := range exactlyOnceLocation {
		if c.SinkType == sink && *values[configFieldOf(key)] == "" {
			errs = append(errs, c.sinkLocationUnset(key))
		}
	}
	if c.BatchInterval <= 0 {
		errs = append(errs, c.settingErr("batch.interval", fmt.Errorf("%v is not positive", c.BatchInterval)))
	}
	if c.SessionTimeout < 0 {
		errs = append(errs, c.settingErr("kafka.sessionTimeout", fmt.Errorf("%v is negative", c.SessionTimeout)))
	}
	if c.OutageLimit < 0 {
		errs = append(errs, c.settingErr("kafka.outageLimit", fmt.Errorf("%v is negative (0 means no limit)", c.OutageLimit)))
	}
	if c.MaxRatePerPartition < 0 {
		errs = append(errs, c.settingErr("batch.maxRatePerPartition", fmt.Errorf("%d is negative", c.MaxRatePerPartition)))
	}
	// The words of every enum setting (and kafka.startFrom), as
	// config.Settings lists them: a value set in code may be none.
	badEnum := map[string]bool{}
	for _, s := range config.Settings() {
		if v, ok := s.Value(&c.Job).(encoding.TextMarshaler); ok {
			if _, err := v.MarshalText(); err != nil {
				errs = append(errs, c.settingErr(s.Key, err))
				badEnum[s.Key] = true
			}
		}
	}
	if !badEnum["location.strategy"] {
		if _, err := c.location(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.deadLetterErr(); err != nil {
		errs = append(errs, err)
	}
	if !badEnum["sink.type"] && !badEnum["offsets.store"] && !badEnum["semantics"] {
		for _, u := range c.Unsupported() {
			errs = append(errs, u)
		}
	}
	if c.RegistryToken != "" && (c.RegistryUsername != "" || c.RegistryPassword != "") {
		errs = append(errs, c.settingErr("schemas.registry.token", errors.New("set either a token or a username and password for the schema registry, not both")))
	}
	return errors.Join(errs...)
}

// deadLetterErr is the error of the dead-letter policy without its topic.
func (c *JobConfig) deadLetterErr() error {
	if c.OnDecodeError == config.DeadLetterBadRecords && c.DeadLetterTopic == "" {
		return c.settingErr("onDecodeError", fmt.Errorf(`"dead-letter" needs the topic the undecodable records go to: set %s`, c.Describe("deadLetterTopic")))
	}
	return nil
}

// exactlyOnceLocation is the setting that locates each exactly-once
// sink's output, and so its offsets: it has no silent default.
var exactlyOnceLocation = map[string]config.SinkType{
	"sink.dir": config.SinkFiles, "sink.dsn": config.SinkPostgres, "sink.topic": config.SinkKafka, "sink.url": config.SinkBlob,
}

// sinkLocationUnset is the error of an exactly-once sink without its
// location.
func (c *JobConfig) sinkLocationUnset(key string) error {
	why := map[string]string{
		"sink.dir":   "the files sink's published files are the job's offsets, so another directory would start over from the first offset",
		"sink.dsn":   "the postgres sink's database keeps the job's output and its offsets, so another database would start over from the first offset",
		"sink.topic": "the kafka sink writes the job's output there",
		"sink.url":   "the blob sink's claims there are the job's offsets, so another location would start over from the first offset",
	}[key]
	return fmt.Errorf("%s is not set, and the job does not start without it: %s; set %s", key, why, c.Describe(key))
}

// derivedFromSink reports an offsets location that follows the sink's
// (the files sink's directory, the postgres sink's database).
func (c *JobConfig) derivedFromSink(field string) bool {
	return field == "OffsetsDir" && c.SinkType == config.SinkFiles || field == "OffsetsDSN" && c.SinkType == config.SinkPostgres
}

// Describe names a setting (its spec key, such as "sink.dir") by the
// ways a user gives it: "--sink-dir, env WAREHOUSE_ETL_SINK_DIR, spec key
// sink.dir"; the variable once the job's name is known (NewJobConfig,
// Main).
func (c *JobConfig) Describe(key string) string {
	f := flagName(key)
	if c.envPrefix == "" {
		return fmt.Sprintf("--%s (spec key %s)", f, key)
	}
	return fmt.Sprintf("--%s or %s (spec key %s)", f, envName(c.envPrefix, f), key)
}

// settingErr is err about the setting key, named as Describe names it.
func (c *JobConfig) settingErr(key string, err error) error {
	f := flagName(key)
	where := "--" + f
	if c.envPrefix != "" {
		where += ", env " + envName(c.envPrefix, f)
	}
	if rest, ok := strings.CutPrefix(err.Error(), key+": "); ok {
		return fmt.Errorf("%s (%s): %s", key, where, rest) // the enums' errors name their key
	}
	return fmt.Errorf("%s (%s): %w", key, where, err)
}

// fieldKey is the setting key of each config.Job field a setting
// writes; configFieldOf is the other way.
var fieldKey = func() map[string]string {
	t := &target{JobConfig: &JobConfig{}, Log: &logSettings{}}
	m := map[string]string{}
	for i := range settings {
		if f := settings[i].fieldName(t); f != "" {
			m[f] = settings[i].key
		}
	}
	return m
}()

func configFieldOf(key string) string {
	for f, k := range fieldKey {
		if k == key {
			return f
		}
	}
	panic("runtime: no field of setting " + key)
}

// brokersHint says where brokers come from: the variables the spec's
// kafka.brokers names, and Main's flag and variable.
func (c *JobConfig) brokersHint() string {
	var vars []string
	for _, v := range c.brokerVars {
		if !slices.Contains(vars, v) {
			vars = append(vars, v)
		}
	}
	main := "--brokers"
	if c.envPrefix != "" {
		main += " or " + envName(c.envPrefix, "brokers")
	}
	if len(vars) > 0 {
		return fmt.Sprintf("set %s, which the spec's kafka.brokers reads, or %s", strings.Join(vars, " or "), main)
	}
	return "set " + main
}

func (c *JobConfig) location() (LocationStrategy, error) {
	switch c.Location {
	case config.LocationConsistent:
		return PreferConsistent(), nil
	case config.LocationBrokers:
		return PreferBrokers(), nil
	case config.LocationFixed:
		m := map[TopicPartition]string{}
		for k, v := range c.LocationFixed {
			i := strings.LastIndexByte(k, '/')
			p, err := strconv.ParseInt(k[i+1:], 10, 32)
			if i <= 0 || err != nil {
				return LocationStrategy{}, c.settingErr("location.fixed", fmt.Errorf("key %q is not topic/partition", k))
			}
			m[TopicPartition{Topic: k[:i], Partition: int32(p)}] = v
		}
		return PreferFixed(m), nil
	}
	return LocationStrategy{}, c.settingErr("location.strategy", fmt.Errorf("%v is not consistent, brokers or fixed", c.Location))
}

// EngineOpts turns the configuration into engine options.
func (c *JobConfig) EngineOpts() ([]Opt, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	opts := []Opt{
		Brokers(c.Brokers...),
		Group(c.Group),
		StartFrom(c.StartFrom),
		ResetTo(c.ResetTo),
		WithSemantics(c.Semantics),
		BatchInterval(c.BatchInterval),
		Workers(c.Workers),
		MaxRatePerPartition(c.MaxRatePerPartition),
		MinRatePerPartition(c.MinRatePerPartition),
		ShutdownTimeout(c.ShutdownTimeout),
		OutageLimit(c.OutageLimit),
		SessionTimeout(c.SessionTimeout),
	}
	if c.InstanceID != "" {
		opts = append(opts, InstanceID(c.InstanceID))
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
	if c.Isolation == config.ReadUncommitted {
		opts = append(opts, ReadUncommitted())
	} else {
		opts = append(opts, ReadCommitted())
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
	if err := c.deadLetterErr(); err != nil {
		return nil, err
	}
	opts := []StreamOpt{Location(loc), OnDecodeError(c.OnDecodeError)}
	if c.OnDecodeError == DeadLetterBadRecords {
		opts = append(opts, DeadLetterTopic(c.DeadLetterTopic))
	}
	return opts, nil
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
			return nil, c.settingErr("schemas.registry.tls.ca", err)
		}
		opts = append(opts, RegistryHTTPClient(tc))
	}
	return opts, nil
}

func (c *JobConfig) tlsConfig() (*tls.Config, error) {
	tc, err := TLSFiles{CA: c.TLSCA, Cert: c.TLSCert, Key: c.TLSKey, InsecureSkipVerify: c.TLSInsecureSkipVerify}.Config()
	if err != nil {
		return nil, c.settingErr("kafka.tls.enabled", err)
	}
	return tc, nil
}

// TLSFiles is a TLS configuration from PEM files: a CA to verify the
// server with (default: the system's roots) and a client certificate.
type TLSFiles = tlsfiles.Files

func (c *JobConfig) saslMechanism() (sasl.Mechanism, error) {
	if c.SASLUsername == "" {
		return nil, c.settingErr("kafka.sasl.username", fmt.Errorf("empty with mechanism %s", c.SASLMechanism))
	}
	switch strings.ToUpper(c.SASLMechanism) {
	case "PLAIN":
		return plain.Auth{User: c.SASLUsername, Pass: c.SASLPassword}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: c.SASLUsername, Pass: c.SASLPassword}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512":
		return scram.Auth{User: c.SASLUsername, Pass: c.SASLPassword}.AsSha512Mechanism(), nil
	}
	return nil, c.settingErr("kafka.sasl.mechanism", fmt.Errorf("%q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.SASLMechanism))
}

// Wiring reports a configuration whose offsets store or sink is not the
// one the job was generated with (store and sink): those are wired into
// the generated code, so a job regenerated from the changed spec, not a
// flag, switches them.
func (c *JobConfig) Wiring(store config.OffsetsStore, sink config.SinkType) error {
	var errs []error
	if c.OffsetsStore != store {
		errs = append(errs, fmt.Errorf("offsets.store: %q, but the job was generated with offsets.store %q; change the spec and regenerate", c.OffsetsStore, store))
	}
	if c.SinkType != sink {
		errs = append(errs, fmt.Errorf("sink.type: %q, but the job was generated with sink.type %q; change the spec and regenerate", c.SinkType, sink))
	}
	return errors.Join(errs...)
}

// NeedRegistry reports a configuration without a schema registry for a
// job that reads or writes Confluent-framed Avro (users names what does,
// "stream impressions"). Such a record names its writer schema by an id
// that only the registry resolves: read as if written with the job's own
// schema, a record from any other writer (a field added, moved or retyped
// upstream) would decode without an error, into wrong values.
func (c *JobConfig) NeedRegistry(users ...string) error {
	if c.RegistryURL != "" {
		return nil
	}
	return fmt.Errorf("no schema registry: Confluent-framed Avro (%s) names each record's writer schema by an id that only the registry resolves; without it, a record written with another schema would be read as if written with the job's own, into wrong values; set %s",
		strings.Join(users, ", "), c.Describe("schemas.registry.url"))
}

// SchemaRegistry is the job's registry client (RegistryURL, with
// RegistryOpts' credentials and TLS), logging to e's logger and counted
// by e's registry health and metrics: what a generated Run resolves
// Confluent-framed records with.
func (c *JobConfig) SchemaRegistry(e *Engine) (*SchemaRegistry, error) {
	opts, err := c.RegistryOpts()
	if err != nil {
		return nil, err
	}
	reg, err := NewSchemaRegistry(c.RegistryURL, opts...)
	if err != nil {
		return nil, err
	}
	reg.Log, reg.Hook = e.Logger(), e.RegistryHook()
	return reg, nil
}

// OutputTopics are the topics the job writes to, each with the setting
// that names it: the Kafka sink's topic and the dead-letter topic. The
// generated Run checks them before the first batch
// (Engine.CheckOutputTopics).
func (c *JobConfig) OutputTopics() []OutputTopic {
	var out []OutputTopic
	if c.SinkType == config.SinkKafka && c.SinkTopic != "" {
		out = append(out, OutputTopic{Topic: c.SinkTopic, Setting: c.Describe("sink.topic")})
	}
	if c.OnDecodeError == config.DeadLetterBadRecords && c.DeadLetterTopic != "" {
		out = append(out, OutputTopic{Topic: c.DeadLetterTopic, Setting: c.Describe("deadLetterTopic")})
	}
	return out
}
