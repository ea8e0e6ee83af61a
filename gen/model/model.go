// Package model is the resolved description of a generated package: the
// Avro named types with their Go names, the unions that need wrapper types,
// and the streams of the job. Schema loading builds it; Go emission reads it.
// It holds no behaviour of its own, so that each stage can be tested alone.
package model

import (
	"time"

	"github.com/streamgen/streamgen/runtime/config"
)

// Kind is the shape of an Avro type.
type Kind int

const (
	Null Kind = iota
	Boolean
	Int
	Long
	Float
	Double
	Bytes
	String
	Record
	Enum
	Fixed
	Array
	Map
	Optional // ["null", T] in either order: a Go pointer (or nil-able type)
	Union    // any other union: a sealed interface with one wrapper per branch
)

var kindNames = [...]string{"null", "boolean", "int", "long", "float", "double", "bytes", "string", "record", "enum", "fixed", "array", "map", "optional", "union"}

func (k Kind) String() string { return kindNames[k] }

// Logical is an Avro logical type that changes the Go type.
type Logical int

const (
	NoLogical Logical = iota
	TimestampMillis
	TimestampMicros
	TimestampNanos
	LocalTimestampMillis
	LocalTimestampMicros
	LocalTimestampNanos
	Date
	TimeMillis
	TimeMicros
	Decimal
	UUID
	Duration
)

// Type is a use of an Avro type.
type Type struct {
	Kind    Kind
	Logical Logical
	// Precision and Scale of a decimal.
	Precision, Scale int
	// Named is set for Record, Enum and Fixed.
	Named *Named
	// Elem is the item type of an Array, the value type of a Map and the
	// non-null branch of an Optional.
	Elem *Type
	// NullIndex is the branch index of null in an Optional (0 or 1).
	NullIndex int
	// Union is set for Union.
	Union *Sealed
}

// Named is an Avro record, enum or fixed type.
type Named struct {
	Kind      Kind // Record, Enum or Fixed
	FullName  string
	Name      string
	Namespace string
	Aliases   []string
	Doc       string
	GoName    string
	File      string // the .avsc file (or registry subject) that defines it

	Fields []*Field // Record

	Symbols       []string // Enum
	SymbolGoNames []string
	EnumDefault   string

	Size int // Fixed

	// Schema is the standalone schema JSON of the type, with every named
	// type it uses defined inline and defaults kept (records only).
	Schema string
	// Fingerprint is CRC-64-AVRO of Schema's Parsing Canonical Form.
	Fingerprint uint64
}

// Field is a record field.
type Field struct {
	Name    string
	GoName  string
	Doc     string
	Type    *Type
	Default string // the default as JSON, "" when there is none
}

// Sealed is a union other than ["null", T]; it becomes a sealed interface.
type Sealed struct {
	GoName    string
	Owner     string // what the union is for, e.g. `field "payload" of com.ads.Impression`
	Branches  []*Branch
	NullIndex int // -1 when the union has no null branch; a nil interface is null
}

// Branch is one non-null branch of a Sealed union.
type Branch struct {
	Index  int // branch index in the Avro union
	GoName string
	Type   *Type
}

// Stream is a stream of the job spec, resolved: its consumer strategy,
// wire format, and key and value types, so that the emitter interprets
// nothing of the spec.
type Stream struct {
	Name     string // the spec's name
	GoName   string // CamelCase of the name
	Consumer Consumer
	Encoding Encoding
	// Key is nil for key "none"; primitive keys are Types of that kind.
	Key   *Type
	Value *Type
	// WriterSchema is the compacted writer schema of a raw stream whose
	// producers do not write Value's own schema; "" otherwise.
	// WriterSchemaFile is the file the spec names it by.
	WriterSchema, WriterSchemaFile string
	// KnownWriters are, for a single-object stream, the other versions of
	// Value's schema that streamgen.lock pins (standalone, compact): the
	// writer schemas the job resolves records' fingerprints against,
	// besides Value's own.
	KnownWriters []string
	// Projection is set when the spec lists the fields the stream reads:
	// its values are then of the projected type, not Value's own.
	Projection *Projection
}

// Table is a lookup table read whole from a compacted topic; the
// generated Batch has a field of it.
type Table struct {
	Name     string // the spec's name
	GoName   string // CamelCase of the name: the Batch field
	Topic    string
	Encoding Encoding
	// Key is string, int or long; Value a record.
	Key, Value *Type
	// MaxEntries and MaxBytes bound it (0: no bound); CatchUpTimeout
	// bounds its read at start (0: the runtime's default).
	MaxEntries, MaxBytes int64
	CatchUpTimeout       time.Duration
	// SkipBadRecords leaves records its decoders reject out.
	SkipBadRecords bool
}

// Value is a value the job loads with a function of its own in the
// generated package, before the first batch and again every Interval;
// the generated Batch has a field of it.
type Value struct {
	Name   string // the spec's name
	GoName string // CamelCase of the name: the Batch field
	// Loader is the user's function that loads it, func Loader(ctx
	// context.Context) (Type, error), declared in a hand-written file of
	// the package; Type is its result type as written there. The
	// generator fills Type from that file (gen.Generate).
	Loader, Type string
	// Interval and MaxAge are the spec's (MaxAge 0: no bound), defaults
	// of the job's settings values.NAME.interval and values.NAME.maxAge.
	Interval, MaxAge time.Duration
	// OnStaleContinue: past MaxAge the job goes on unready rather than
	// failing.
	OnStaleContinue bool
}

// Projection is a record narrowed to some of its fields: a generated type
// that holds only them, decoded from the record's encoding by skipping
// the others.
type Projection struct {
	GoName string
	Record *Named // the record it projects
	// Fields are the fields it holds, in the record's order.
	Fields []*ProjectedField
	// Paths are the spec's field paths this projection holds, as
	// written, for doc comments.
	Paths []string
}

// ProjectedField is a field of a Projection.
type ProjectedField struct {
	*Field // the record's field
	// Sub is set when only some fields of the nested record are read:
	// the field's type is Sub (a Record field) or a pointer to it (an
	// Optional one) instead of the record's own.
	Sub *Projection
}

// Encoding is a stream's wire format.
type Encoding int

const (
	// Confluent: a magic byte and the writer schema's registry id before
	// the Avro body.
	Confluent Encoding = iota
	// Raw: the Avro body only.
	Raw
	// SingleObject: the Avro specification's single-object encoding, the
	// marker C3 01 and the writer schema's CRC-64-AVRO fingerprint (8
	// bytes, little-endian) before the body.
	SingleObject
)

// ConsumerKind says how a stream finds its partitions.
type ConsumerKind int

const (
	Subscribe        ConsumerKind = iota // Consumer.Topics, in a consumer group
	SubscribePattern                     // topics matching Consumer.Pattern, in a consumer group
	Assign                               // Consumer.Assign, without a group
)

// Consumer is a stream's consumer strategy.
type Consumer struct {
	Kind    ConsumerKind
	Topics  []string // Subscribe, in spec order
	Pattern string   // SubscribePattern, a Go regexp
	// Assign lists the partitions of Assign, by topic, then in spec order.
	Assign []TopicPartition
	// StartingOffsets are the offsets to start at instead of the job's
	// startFrom, by topic and partition.
	StartingOffsets []Offset
}

// TopicPartition is a partition of a topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// Offset is a partition's starting offset.
type Offset struct {
	TopicPartition
	Offset int64
}

// Package is everything emitted into one generated Go package.
type Package struct {
	Name string
	// Job is the job the package runs, as the spec names and configures it.
	Job     Job
	Named   []*Named // in definition order
	Unions  []*Sealed
	Streams []*Stream
	// Tables are the job's lookup tables (runtime/side.Table).
	Tables []*Table
	// Values are the job's values its own loaders load
	// (runtime/side.Value).
	Values  []*Value
	Sources []string // where the schemas came from, for the file header
	// KafkaSink is the Kafka sink's output, nil with another sink.
	KafkaSink *KafkaSink
	// FileSink is what the files or blob sink writes, nil with another
	// sink.
	FileSink *FileSink
}

// FileSink is the record the files or blob sink writes: sink.value, by
// default the first stream's value.
type FileSink struct {
	Value *Type
	// Passthrough: every stream's values are of Value's type, whole (not
	// projected), so the package can copy the streams unchanged.
	Passthrough bool
}

// Job is the job a package runs: its name and the configuration the spec
// gives it, resolved from the spec so that the emitter reads no spec.
type Job struct {
	// Name is the spec's job name: the generated JobName, the default
	// group id and metrics prefix, and what the prefix of the job's
	// environment variables derives from (config.EnvPrefix).
	Name string
	// Config is the job's configuration as the spec resolves it
	// (spec.Spec.Job): config.Default with what the spec sets, runtime
	// values keeping their ${VAR} references. The generated DefaultConfig
	// assigns the fields that differ from config.Default, and the sink
	// type and offset store choose the wiring Run emits.
	Config config.Job
}

// KafkaSink is what the Kafka sink writes, resolved from the spec's sink
// keys and defaults.
type KafkaSink struct {
	Value    *Type
	Key      *Type // nil for none; a String, Bytes, Int or Long Type
	Encoding Encoding
	// ByInput: each record goes to its input record's partition number.
	ByInput bool
	// Passthrough: every stream's value and key types are the output's,
	// so the package can copy the streams unchanged.
	Passthrough bool
}

// RegistryUsers names what reads or writes Confluent-framed Avro ("stream
// impressions", "table campaigns", "the Kafka sink"): the job needs a
// schema registry to resolve their records' schema ids.
func (p *Package) RegistryUsers() []string {
	var users []string
	for _, s := range p.Streams {
		if s.Encoding == Confluent {
			users = append(users, "stream "+s.Name)
		}
	}
	for _, t := range p.Tables {
		if t.Encoding == Confluent {
			users = append(users, "table "+t.Name)
		}
	}
	if p.KafkaSink != nil && p.KafkaSink.Encoding == Confluent {
		users = append(users, "the Kafka sink")
	}
	return users
}
