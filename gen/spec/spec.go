// Package spec loads and validates the job spec, streamgen.yaml (version 1).
//
// Load and Parse return a Spec with every default applied, or an ErrorList
// naming every problem in the file as "file:line:col: message". The
// defaults, and the words of every enum, are runtime/config's, the one
// definition the runtime shares; Spec.Job is the spec as that
// configuration.
//
// Values may reference environment variables as ${VAR} or ${VAR:-default}
// (see runtime/envsubst). The values the generator itself needs
// (schemas.files, schemas.registry.url, schemas.registry.subjects) are
// expanded when the spec is loaded. Runtime values (brokers, group, TLS,
// SASL, DSNs, directories, topics, table, status address) are kept exactly
// as written: the generated job expands them at start-up, so no secret is
// baked into generated code. Such values are checked only when they hold
// no reference.
package spec

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/streamgen/streamgen/runtime/config"
)

// JSONSchema is the JSON Schema (draft 2020-12) of streamgen.yaml, for
// editors and CI linters.
//
//go:embed streamgen.schema.json
var JSONSchema []byte

// Spec is a loaded, validated streamgen.yaml with defaults applied.
type Spec struct {
	// File is the spec's path as given to Load or Parse.
	File string
	// Dir is the directory of File; relative paths in the spec resolve
	// against it.
	Dir string

	// Version is the spec format version. Required; must be 1.
	Version int
	// Name is the job name, matching [a-z0-9][a-z0-9._-]*. Required. It is
	// the default consumer group id, the metrics prefix and the binary name.
	Name string
	// Package is the Go package name of the generated code. Default: Name
	// lowercased with every character that is not a letter or digit removed
	// ("impressions-etl" → "impressionsetl"). Must be a Go identifier and
	// not a keyword.
	Package string
	// Output is the output directory as written, relative to the spec file
	// (see OutputDir). Default: "./" + Package.
	Output string

	// Schemas says where the Avro schemas come from. Optional.
	Schemas Schemas
	// Streams are the job's input streams. Required, at least one.
	Streams []Stream
	// Tables are the job's lookup tables, each read whole from a
	// compacted topic and swapped between batches. Optional.
	Tables []Table
	// Values are the job's values loaded by a function of the user's
	// (a model, a list) before the first batch and again on a schedule,
	// swapped between batches. Optional.
	Values []Value
	// Job is the job's configuration: config.Default with what the
	// spec writes under kafka, batch, location, workers, semantics,
	// offsets, sink, retries, onDecodeError, deadLetterTopic, shutdown
	// and status (and schemas.registry's url and tls, as written), and
	// what follows from it: kafka.group defaults to Name, and with
	// exactly-once offsets.store to the sink's store. config.Job
	// documents each field and the key it comes from, and holds every
	// default. Runtime values keep their ${VAR} references: the
	// generated job expands them at start-up. It is what the generated
	// DefaultConfig holds.
	Job config.Job
	// KafkaSink is the output record of sink.type kafka: generation-time
	// keys of sink.
	KafkaSink KafkaSink

	// PackagePos is where the package name was written (the name's
	// position when Package was derived from it).
	PackagePos Pos
	// OutputPos is where the output directory was written (PackagePos
	// when Output is the default).
	OutputPos Pos

	// positions holds where each key was written, by path (see At).
	positions map[string]Pos
}

// OutputDir is the output directory: Output resolved against Dir.
func (s *Spec) OutputDir() string {
	if filepath.IsAbs(s.Output) {
		return filepath.Clean(s.Output)
	}
	return filepath.Join(s.Dir, s.Output)
}

// Errorf returns an error at pos, for later stages (schema resolution,
// emission) that find problems in values the spec holds.
func (s *Spec) Errorf(pos Pos, format string, args ...any) *Error {
	if pos.File == "" {
		pos.File = s.File
	}
	return &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// Schemas says where the Avro schemas come from: files, a registry, or
// both.
type Schemas struct {
	// Files are glob patterns (path.Match syntax) relative to the spec
	// file, expanded from ${VAR} at load time. The generator globs them.
	Files []string
	// FilesPos is the position of each entry of Files.
	FilesPos []Pos
	// Registry is a Confluent-compatible schema registry; nil if none.
	Registry *Registry
}

// Registry is a schema registry read at generation time.
type Registry struct {
	// URL is the registry's http(s) URL, expanded at load time. Required.
	URL string
	// Subjects are the subjects to read, written "name" or "name@version".
	// Optional.
	Subjects []Subject
	// Username and Password are HTTP basic auth; Token is a bearer token
	// instead. Generation-time values: write them as ${VAR} references so
	// they come from the environment of streamgen generate and check.
	Username, Password, Token string
	// TLS holds PEM files for an https registry with a private CA or
	// client certificates: generation-time values, relative paths
	// resolved against the spec's directory.
	TLS RegistryTLS
	// URLText and TLSText are url and tls as written, ${...} not
	// expanded and paths not resolved: the generated job's defaults
	// (RegistryURL, RegistryCA, ...), which the job expands at start-up
	// and whose relative paths it reads from its working directory.
	URLText string
	TLSText RegistryTLS
	// TLSPos is where tls was written.
	TLSPos Pos
	// Unset holds an error for each of url, username, password, token
	// and the tls files that names an environment variable which is not
	// set (the value is then ""). They are reported when the registry is
	// contacted (generate without a lock, generate -refresh, schemas
	// pull, check), not when the spec is loaded: a build from the
	// versions streamgen.lock pins runs offline with nothing set.
	Unset ErrorList
}

// RegistryTLS is TLS to the schema registry.
type RegistryTLS struct {
	CA, Cert, Key      string
	InsecureSkipVerify bool
}

// Subject is a registry subject, optionally pinned to a version.
type Subject struct {
	Name string
	// Version is the pinned version (>= 1), or 0 for the latest (the
	// default, also written "name@latest").
	Version int
	Pos     Pos
}

// KafkaSink is what the Kafka sink writes (sink.value, sink.key,
// sink.encoding, sink.partitioning); the generated package gets a typed
// writer for it.
type KafkaSink struct {
	// Value is the Avro full name of the output record, which the
	// files and blob sinks write too. Default: the first stream's value
	// type (Passthrough copies the input).
	Value string
	// Key is the output key type: string, bytes, int32, int64 or none.
	// Default: the first stream's key when it is one of those, else
	// none.
	Key string
	// Encoding is the output's wire format: confluent (the value's schema
	// registered under subject TOPIC-value, its id before each body) or
	// raw (the Avro body only). Default: the first stream's encoding.
	Encoding string
	// Partitioning is key (the default: by the key's hash, as Kafka's
	// producers do) or input (the partition number of the input record
	// each output record is made from).
	Partitioning string
	// ValuePos and KeyPos are where Value and Key were written.
	ValuePos, KeyPos Pos
}

// Stream is one input stream: a consumer strategy and the record types.
type Stream struct {
	// Name is the stream's name, [a-z][a-z0-9_]*, unique in the spec; the
	// generated types are named after it. Required.
	Name string
	// Subscribe lists the topics to subscribe to. Exactly one of
	// Subscribe, Pattern and Assign is set.
	Subscribe []string
	// Pattern is a Go regexp; matching topics are subscribed.
	Pattern string
	// Assign maps topic → partitions (>= 0, no duplicates) to read without
	// joining a consumer group.
	Assign map[string][]int32
	// StartingOffsets maps topic → partition → offset (>= 0) to start from
	// instead of Job.StartFrom (kafka.startFrom). Optional. Topics must be
	// among the stream's subscribed or assigned topics (or match its
	// pattern).
	StartingOffsets map[string]map[int32]int64
	// Key is the record key type: string, bytes, int32, int64, none, or an
	// Avro full name. Default none.
	Key string
	// Value is the Avro full name of the record value type. Required.
	Value string
	// Encoding is the wire format: confluent (magic byte and schema id
	// before the Avro body), single-object (the Avro specification's
	// single-object encoding: marker C3 01, the writer schema's
	// CRC-64-AVRO fingerprint, the body) or raw (Avro body only).
	// Default confluent.
	Encoding string
	// WriterSchema is, for encoding raw, the .avsc file (relative to the
	// spec) of the schema the producers write with, when it is not the
	// value type's own: records are resolved from it to the value type.
	// For single-object, a writer schema the job knows besides the
	// versions streamgen.lock pins (one it was never generated with).
	// It must be a standalone schema that the value type can read.
	// Generation-time value. Optional.
	WriterSchema string
	// AcknowledgeSchemaChange is, for encoding raw, the fingerprint
	// ("0x" and 16 hex digits, as generate prints it) of the value type's
	// schema whose change against streamgen.lock the spec's author
	// acknowledges: no record written with the pinned version will be
	// read again. Without it (or writerSchema), generate refuses such a
	// change. Optional.
	AcknowledgeSchemaChange string
	// Fields are the value's fields the job reads, as written: names of
	// the value record's fields, or dotted paths into its nested records
	// ("geo.country"). With them the stream's values are a projection,
	// a generated type holding only these fields, whose decoder skips
	// the rest. Optional; nil means the whole value. When set, it holds
	// at least one path, none twice and none inside another.
	Fields []string
	// FieldsPos is the position of each entry of Fields; FieldsListPos
	// is where the fields key was written.
	FieldsPos     []Pos
	FieldsListPos Pos

	// Pos is the stream's position; KeyPos and ValuePos are where Key and
	// Value were written (Pos when defaulted), WriterSchemaPos where
	// WriterSchema was, AcknowledgePos where AcknowledgeSchemaChange was.
	Pos, KeyPos, ValuePos, WriterSchemaPos, AcknowledgePos Pos
}

// Table is a lookup table: the latest value of each key of a compacted
// topic, which every replica reads whole, outside the job's group
// (runtime/side.Table). The generated Batch has a field of it.
type Table struct {
	// Name is the table's name, [a-z][a-z0-9_]*, unique among the
	// tables; the Batch field is named after it. Required.
	Name string
	// Topic is the compacted topic it is read from. Required.
	Topic string
	// Key is the key type: string (the default), int32 or int64.
	Key string
	// Value is the Avro full name of the value record. Required.
	Value string
	// Encoding is the values' wire format, as a stream's: confluent (the
	// default), raw or single-object.
	Encoding string
	// MaxEntries and MaxBytes bound the table (0, the default: no bound).
	MaxEntries, MaxBytes int64
	// CatchUpTimeout bounds the read of the topic at start; 0 is the
	// runtime's default (5m).
	CatchUpTimeout time.Duration
	// OnDecodeError is fail (the default) or skip.
	OnDecodeError string
	// Pos is the table's position; KeyPos and ValuePos are where Key and
	// Value were written (Pos when defaulted).
	Pos, KeyPos, ValuePos Pos
}

// Value is a value the job loads with a function of its own, beside the
// generated code (func LoadNAME(ctx context.Context) (T, error)), before
// the first batch and again every Interval (runtime/side.Value).
type Value struct {
	// Name is the value's name, [a-z][a-z0-9_]*, unique among the
	// streams, tables and values; the Batch field, the loader and the
	// settings are named after it. Required.
	Name string
	// Interval is how often it is loaded again. Default 5m.
	Interval time.Duration
	// MaxAge is how old the last good value may grow while reloads fail
	// before the job is unready; 0, the default, is no bound.
	MaxAge time.Duration
	// OnStale is what the job does past MaxAge: fail (the default) or
	// continue.
	OnStale string
	Pos     Pos
}

// Load reads and parses the spec at path, expanding generation-time
// references from the environment. Its error is an ErrorList for problems
// in the file, or the read error (which names the path).
func Load(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load spec: %w", err)
	}
	return Parse(path, data, os.LookupEnv)
}
