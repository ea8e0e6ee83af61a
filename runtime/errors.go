package runtime

import (
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
)

// This file owns the errors Run returns, each naming the topic, partition,
// offset or setting involved.

// ErrStopped is returned by Run after Stop or context cancellation when the
// engine shut down cleanly.
var ErrStopped = errors.New("runtime: engine stopped")

// PanicError is a panic in a handler or a ForeachPartition task, recovered
// and turned into the batch's or the task's failure, so one bad record
// cannot take the process down without a word.
type PanicError struct {
	// Where says what panicked: the handler, or the task for a range.
	Where string
	Value any
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("%s panicked: %v\n%s", e.Where, e.Value, e.Stack)
}

// recovered runs f, turning a panic into a *PanicError.
func recovered(where string, f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Where: where, Value: v, Stack: debug.Stack()}
		}
	}()
	return f()
}

// TaskError is a partition task that failed on every attempt. Use errors.As
// to get the range to inspect or replay.
type TaskError struct {
	Range    OffsetRange
	Attempts int
	Err      error
}

func (e *TaskError) Error() string {
	return fmt.Sprintf("task for %s failed after %d attempts: %v", e.Range, e.Attempts, e.Err)
}

func (e *TaskError) Unwrap() error { return e.Err }

// DecodeError is a record the stream's key or value decoder rejected.
type DecodeError struct {
	Topic     string
	Partition int32
	Offset    int64
	// Key is true when the key, not the value, failed to decode.
	Key bool
	// SchemaID is the Confluent schema id the key or value named, -1 if
	// it had none or no valid header.
	SchemaID int
	Err      error
	// Fails is set when the record fails its batch (onDecodeError fail,
	// the default): the message then says what may be done about it.
	Fails bool
}

func (e *DecodeError) Error() string {
	what := "value"
	if e.Key {
		what = "key"
	}
	var msg string
	if e.SchemaID >= 0 {
		msg = fmt.Sprintf("decoding %s of topic %s partition %d offset %d (schema id %d, %s): %v", what, e.Topic, e.Partition, e.Offset, e.SchemaID, e.Cause(), e.Err)
	} else {
		msg = fmt.Sprintf("decoding %s of topic %s partition %d offset %d (%s): %v", what, e.Topic, e.Partition, e.Offset, e.Cause(), e.Err)
	}
	if e.Fails {
		msg += "; " + e.remedy()
	}
	return msg
}

// remedy says what may be done about a record that fails its batch.
func (e *DecodeError) remedy() string {
	aside := "or set onDecodeError to skip or dead-letter to set such records aside (the job reads it again until then)"
	switch strings.TrimPrefix(e.Cause(), "key: ") {
	case "incompatible writer schema":
		return "to read it, the job's schema must read its writer's (a default for each field the writer lacks, types that promote) and the job be regenerated, " + aside
	case "unknown schema id":
		return "the registry the job asks may not be the one the producers register with (schemas.registry.url), " + aside
	case "bad magic byte":
		return "the producers may write another encoding than the stream's (encoding: confluent, single-object or raw), " + aside
	}
	return "to go past it, " + strings.TrimPrefix(aside, "or ")
}

func (e *DecodeError) Unwrap() error { return e.Err }

// FetchError is an error Kafka returned for one partition.
type FetchError struct {
	Topic     string
	Partition int32
	// Offset is the next offset the stream expected on the partition.
	Offset int64
	Err    error
}

func (e *FetchError) Error() string { return e.where() + ": " + fmt.Sprint(e.Err) }

// where names what was fetched, leaving out a partition or offset that is
// not known.
func (e *FetchError) where() string {
	switch {
	case e.Partition < 0: // an error of the whole topic, such as its metadata
		return fmt.Sprintf("fetching topic %s", e.Topic)
	case e.Offset < 0: // before the partition's start was known
		return fmt.Sprintf("fetching topic %s partition %d", e.Topic, e.Partition)
	}
	return fmt.Sprintf("fetching topic %s partition %d at offset %d", e.Topic, e.Partition, e.Offset)
}

func (e *FetchError) Unwrap() error { return e.Err }

// NoOffsetError is ResetError finding partitions without a committed offset.
type NoOffsetError struct {
	Group      string
	Partitions []TopicPartition
}

func (e *NoOffsetError) Error() string {
	names := make([]string, len(e.Partitions))
	for i, tp := range e.Partitions {
		names[i] = tp.String()
	}
	slices.Sort(names)
	return fmt.Sprintf("group %q has no stored offset for %s and the reset policy is error", e.Group, strings.Join(names, ", "))
}

// CommitError is a failed offset commit for one range.
type CommitError struct {
	Range OffsetRange
	Err   error
}

func (e *CommitError) Error() string {
	return fmt.Sprintf("committing %s: %v", e.Range, e.Err)
}

func (e *CommitError) Unwrap() error { return e.Err }

// ConnectError is the engine failing its first round trip to the brokers.
// A broker that rejects SASL credentials usually just closes the
// connection, so the cause alone reads "EOF"; this error says what was
// tried. It never contains credentials.
type ConnectError struct {
	Brokers []string
	// Mechanism is the SASL mechanism in use, empty without SASL.
	Mechanism string
	TLS       bool
	Err       error
}

func (e *ConnectError) Error() string {
	how := "plaintext"
	if e.TLS {
		how = "TLS"
	}
	if e.Mechanism != "" {
		how += ", SASL " + e.Mechanism + " (check the credentials)"
	}
	return fmt.Sprintf("cannot reach brokers %s over %s: %v", strings.Join(e.Brokers, ","), how, e.Err)
}

func (e *ConnectError) Unwrap() error { return e.Err }

// OffsetOutOfRangeError is a start offset (stored, or given as a starting
// offset) outside its partition's log, with ResetError: Kafka deleted the
// records after it (retention), or the partition is shorter than it was.
type OffsetOutOfRangeError struct {
	TopicPartition
	Offset int64
	// From says where the offset came from: "the offset store" or
	// "startingOffsets".
	From       string
	Start, End int64
	// Why says why the job does not reset; empty: the reset policy is
	// error.
	Why string
}

func (e *OffsetOutOfRangeError) Error() string {
	why := e.Why
	if why == "" {
		why = "the reset policy is error"
	}
	return fmt.Sprintf("topic %s partition %d: offset %d from %s is outside the partition's log [%d, %d) and %s",
		e.Topic, e.Partition, e.Offset, e.From, e.Start, e.End, why)
}

// pastLogEnd is why an exactly-once job does not reset a stored offset
// beyond its partition's log end (OffsetOutOfRangeError.Why).
const pastLogEnd = "the job is exactly-once: its output holds records up to that offset, so the log was recreated or truncated " +
	"(a topic deleted and created again, a broker that lost data, an unclean leader election), and read again from anywhere its " +
	"records would reuse offsets the output already has; to start over, give the job a new output (sink URL or table) and " +
	"offsets store, or remove what they hold"

// OffsetStoreError is the job's offset store failing to load or store.
type OffsetStoreError struct {
	Op  string // "load", "store", "begin" or "drain"
	Err error
}

func (e *OffsetStoreError) Error() string {
	return fmt.Sprintf("offset store: %s: %v", e.Op, e.Err)
}

func (e *OffsetStoreError) Unwrap() error { return e.Err }
