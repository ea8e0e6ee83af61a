package config

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// The settings that take one of a fixed set of words are typed enums.
// Each one's zero value is its default, so a Job built field by field
// without Default still means what the spec's defaults mean; each
// marshals to, and unmarshals from, the word the spec uses; and Names
// lists the words in order, for messages, the generator and the JSON
// Schema.

// Semantics is the job's delivery guarantee (spec key semantics).
type Semantics int

const (
	// AtLeastOnce stores a batch's offsets after its handler succeeded,
	// so a crash between the two repeats the batch. The default.
	AtLeastOnce Semantics = iota
	// AtMostOnce stores a batch's offsets before its handler runs, so a
	// crash during the handler loses the batch.
	AtMostOnce
	// ExactlyOnce commits output and offsets in one atomic step: the
	// offset store must be transactional (a transactional sink's).
	ExactlyOnce
)

// ResetPolicy is what happens where the offset store has no offset for a
// partition, or one outside its log (spec key kafka.resetTo, Kafka's
// auto.offset.reset).
type ResetPolicy int

const (
	// ResetEarliest starts at the log start. The default.
	ResetEarliest ResetPolicy = iota
	// ResetLatest starts at the end of the partition.
	ResetLatest
	// ResetError fails the job, naming the partitions.
	ResetError
)

// Isolation is how transactional records are read (spec key
// kafka.isolation).
type Isolation int

const (
	// ReadCommitted reads only committed transactional records; batches
	// end at the last stable offset. The default: a job reading the
	// output of an exactly-once job must not see aborted records.
	ReadCommitted Isolation = iota
	// ReadUncommitted reads every record up to the high watermark.
	ReadUncommitted
)

// Location is the location strategy (spec key location.strategy).
type Location int

const (
	// LocationConsistent spreads partitions evenly and keeps each on the
	// same worker across batches. The default.
	LocationConsistent Location = iota
	// LocationBrokers runs the partitions led by one broker together.
	LocationBrokers
	// LocationFixed places partitions as Job.LocationFixed says.
	LocationFixed
)

// DecodePolicy is what happens to a record that cannot be decoded (spec
// key onDecodeError).
type DecodePolicy int

const (
	// FailOnDecodeError fails the batch, naming topic, partition and offset.
	// The default.
	FailOnDecodeError DecodePolicy = iota
	// SkipBadRecords leaves the record out and counts it in a metric.
	SkipBadRecords
	// DeadLetterBadRecords leaves the record out and writes it to
	// Job.DeadLetterTopic.
	DeadLetterBadRecords
)

// OffsetsStore is where consumed offsets are kept (spec key
// offsets.store).
type OffsetsStore int

const (
	// StoreKafka commits offsets to the job's consumer group. The
	// default (with exactly-once, the sink's store is).
	StoreKafka OffsetsStore = iota
	// StorePostgres keeps offsets in a PostgreSQL table.
	StorePostgres
	// StoreFiles keeps offsets in a directory.
	StoreFiles
	// StoreBlob is the blob sink's: its claims of each partition's
	// offset ranges are the offsets.
	StoreBlob
)

// SinkType is where ProcessBatch output goes (spec key sink.type).
type SinkType int

const (
	// SinkNone: the handler writes its own output. The default.
	SinkNone SinkType = iota
	// SinkFiles writes one Avro file per partition and batch.
	SinkFiles
	// SinkPostgres writes rows in the batch's transaction.
	SinkPostgres
	// SinkKafka produces to a topic in a Kafka transaction.
	SinkKafka
	// SinkBlob writes one Avro or Parquet object per partition and batch
	// (and Hive partition) to object storage or a directory.
	SinkBlob
)

var (
	semanticsNames = []string{AtLeastOnce: "at-least-once", AtMostOnce: "at-most-once", ExactlyOnce: "exactly-once"}
	resetNames     = []string{ResetEarliest: "earliest", ResetLatest: "latest", ResetError: "error"}
	isolationNames = []string{ReadCommitted: "read_committed", ReadUncommitted: "read_uncommitted"}
	locationNames  = []string{LocationConsistent: "consistent", LocationBrokers: "brokers", LocationFixed: "fixed"}
	decodeNames    = []string{FailOnDecodeError: "fail", SkipBadRecords: "skip", DeadLetterBadRecords: "dead-letter"}
	storeNames     = []string{StoreKafka: "kafka", StorePostgres: "postgres", StoreFiles: "files", StoreBlob: "blob"}
	sinkNames      = []string{SinkNone: "none", SinkFiles: "files", SinkPostgres: "postgres", SinkKafka: "kafka", SinkBlob: "blob"}
)

// EnumError is a word that is not one of a setting's values.
type EnumError struct {
	// Setting is the spec key, such as "semantics" or "kafka.resetTo".
	Setting string
	Value   string
	Want    []string
}

func (e *EnumError) Error() string {
	return fmt.Sprintf("%s: %q is not %s", e.Setting, e.Value, OrList(e.Want))
}

// OrList formats ["a","b","c"] as "a, b or c".
func OrList(xs []string) string {
	if len(xs) < 2 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}

func name[T ~int](names []string, v T) string {
	if v >= 0 && int(v) < len(names) {
		return names[v]
	}
	return fmt.Sprintf("%T(%d)", v, int(v))
}

func marshal[T ~int](setting string, names []string, v T) ([]byte, error) {
	if v < 0 || int(v) >= len(names) {
		return nil, fmt.Errorf("%s: %d is not a valid value", setting, int(v))
	}
	return []byte(names[v]), nil
}

func unmarshal[T ~int](setting string, names []string, b []byte, dst *T) error {
	i := slices.Index(names, string(b))
	if i < 0 {
		return &EnumError{Setting: setting, Value: string(b), Want: slices.Clone(names)}
	}
	*dst = T(i)
	return nil
}

func (s Semantics) String() string               { return name(semanticsNames, s) }
func (s Semantics) Names() []string              { return slices.Clone(semanticsNames) }
func (s Semantics) MarshalText() ([]byte, error) { return marshal("semantics", semanticsNames, s) }
func (s *Semantics) UnmarshalText(b []byte) error {
	return unmarshal("semantics", semanticsNames, b, s)
}

func (p ResetPolicy) String() string               { return name(resetNames, p) }
func (p ResetPolicy) Names() []string              { return slices.Clone(resetNames) }
func (p ResetPolicy) MarshalText() ([]byte, error) { return marshal("kafka.resetTo", resetNames, p) }
func (p *ResetPolicy) UnmarshalText(b []byte) error {
	return unmarshal("kafka.resetTo", resetNames, b, p)
}

func (i Isolation) String() string  { return name(isolationNames, i) }
func (i Isolation) Names() []string { return slices.Clone(isolationNames) }
func (i Isolation) MarshalText() ([]byte, error) {
	return marshal("kafka.isolation", isolationNames, i)
}
func (i *Isolation) UnmarshalText(b []byte) error {
	return unmarshal("kafka.isolation", isolationNames, b, i)
}

func (l Location) String() string  { return name(locationNames, l) }
func (l Location) Names() []string { return slices.Clone(locationNames) }
func (l Location) MarshalText() ([]byte, error) {
	return marshal("location.strategy", locationNames, l)
}
func (l *Location) UnmarshalText(b []byte) error {
	return unmarshal("location.strategy", locationNames, b, l)
}

func (p DecodePolicy) String() string               { return name(decodeNames, p) }
func (p DecodePolicy) Names() []string              { return slices.Clone(decodeNames) }
func (p DecodePolicy) MarshalText() ([]byte, error) { return marshal("onDecodeError", decodeNames, p) }
func (p *DecodePolicy) UnmarshalText(b []byte) error {
	return unmarshal("onDecodeError", decodeNames, b, p)
}

func (s OffsetsStore) String() string               { return name(storeNames, s) }
func (s OffsetsStore) Names() []string              { return slices.Clone(storeNames) }
func (s OffsetsStore) MarshalText() ([]byte, error) { return marshal("offsets.store", storeNames, s) }
func (s *OffsetsStore) UnmarshalText(b []byte) error {
	return unmarshal("offsets.store", storeNames, b, s)
}

func (s SinkType) String() string                { return name(sinkNames, s) }
func (s SinkType) Names() []string               { return slices.Clone(sinkNames) }
func (s SinkType) MarshalText() ([]byte, error)  { return marshal("sink.type", sinkNames, s) }
func (s *SinkType) UnmarshalText(b []byte) error { return unmarshal("sink.type", sinkNames, b, s) }

// StartKind is the kind of a StartPosition.
type StartKind int

const (
	// StartFromCommitted resumes from the stored offset, else ResetPolicy.
	StartFromCommitted StartKind = iota
	// StartFromEarliest starts at the log start, ignoring stored offsets.
	StartFromEarliest
	// StartFromLatest starts at the end, ignoring stored offsets.
	StartFromLatest
	// StartFromTimestamp starts at the first record at or after a time.
	StartFromTimestamp
)

var startNames = []string{StartFromCommitted: "committed", StartFromEarliest: "earliest", StartFromLatest: "latest", StartFromTimestamp: "timestamp"}

// Names are the words of the kinds; a timestamp is written
// "timestamp:RFC3339".
func (k StartKind) Names() []string { return slices.Clone(startNames) }
func (k StartKind) String() string  { return name(startNames, k) }

// StartPosition is where the job starts on a partition that has no
// explicit starting offset (spec key kafka.startFrom): committed,
// earliest, latest or timestamp:RFC3339. The zero value is committed, the
// default. Positions other than committed apply to the partitions of the
// first assignment only: partitions that arrive later by a rebalance
// resume from the stored offset, so a handover between replicas loses and
// repeats nothing.
type StartPosition struct {
	kind StartKind
	at   time.Time
}

// StartCommitted resumes from the stored offset, falling back to the
// ResetPolicy where there is none. The default.
func StartCommitted() StartPosition { return StartPosition{} }

// StartEarliest starts at the log start, ignoring stored offsets.
func StartEarliest() StartPosition { return StartPosition{kind: StartFromEarliest} }

// StartLatest starts at the end of each partition, ignoring stored
// offsets: the anomaly detector, which only cares about now.
func StartLatest() StartPosition { return StartPosition{kind: StartFromLatest} }

// StartAt starts at the first record whose timestamp is at or after t,
// ignoring stored offsets.
func StartAt(t time.Time) StartPosition { return StartPosition{kind: StartFromTimestamp, at: t} }

// Kind is the position's kind.
func (p StartPosition) Kind() StartKind { return p.kind }

// Time is the time of a StartFromTimestamp position.
func (p StartPosition) Time() time.Time { return p.at }

func (p StartPosition) String() string {
	if p.kind == StartFromTimestamp {
		return "timestamp:" + p.at.Format(time.RFC3339Nano)
	}
	return p.kind.String()
}

func (p StartPosition) MarshalText() ([]byte, error) {
	if p.kind < 0 || int(p.kind) >= len(startNames) {
		return nil, fmt.Errorf("kafka.startFrom: kind %d is not valid", int(p.kind))
	}
	return []byte(p.String()), nil
}

func (p *StartPosition) UnmarshalText(b []byte) error {
	s := string(b)
	if ts, ok := strings.CutPrefix(s, "timestamp:"); ok {
		t, err := time.Parse(time.RFC3339, ts)
		if err != nil {
			return fmt.Errorf("kafka.startFrom: %q: the timestamp must be RFC3339, such as timestamp:2024-05-01T00:00:00Z", s)
		}
		*p = StartAt(t)
		return nil
	}
	i := slices.Index(startNames[:StartFromTimestamp], s)
	if i < 0 {
		return &EnumError{Setting: "kafka.startFrom", Value: s, Want: []string{"committed", "earliest", "latest", "timestamp:RFC3339"}}
	}
	*p = StartPosition{kind: StartKind(i)}
	return nil
}
