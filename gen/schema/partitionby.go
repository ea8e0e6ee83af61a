package schema

import (
	"fmt"
	"strings"

	"github.com/streamgen/streamgen/gen/model"
	"github.com/streamgen/streamgen/gen/spec"
	"github.com/streamgen/streamgen/runtime/envsubst"
)

// partitionBy checks sink.partitionBy against the record the blob sink
// writes, so that a misspelt or unusable field fails go generate at the
// spec's line rather than the job at its start. The levels follow the
// blob sink's rules (runtime/sink BlobSettings and resolveLevel): a
// field, or a dotted path through nested records, optional or not;
// without a granularity a string, enum, int, long or boolean; at hour or
// day a timestamp-millis or -micros long, or by day a date. A level with
// ${VAR} is the job's to check.
func partitionBy(sp *spec.Spec, sink *model.FileSink) []*spec.Error {
	if sink == nil || sink.Value == nil || sink.Value.Named == nil || sink.Value.Kind != model.Record {
		return nil
	}
	var errs []*spec.Error
	for _, level := range sp.Job.SinkPartitionBy {
		if envsubst.HasRefs(level) {
			continue
		}
		if msg := partitionLevel(strings.TrimSpace(level), sink.Value); msg != "" {
			errs = append(errs, sp.Errorf(sp.At("sink.partitionBy"), "sink.partitionBy: level %q: %s", level, msg))
		}
	}
	return errs
}

// partitionLevel is what is wrong with one level of partitionBy over
// root, or "".
func partitionLevel(level string, root *model.Type) string {
	field, gran, timed := strings.Cut(level, ":")
	if timed && gran != "hour" && gran != "day" {
		return fmt.Sprintf("%q is no granularity; want hour or day", gran)
	}
	if field == "" {
		return "it names no field"
	}
	t := root
	parts := strings.Split(field, ".")
	for i, name := range parts {
		if t.Kind == model.Optional {
			t = t.Elem
		}
		if t.Kind != model.Record || t.Named == nil {
			return fmt.Sprintf("%s is not a record", strings.Join(parts[:i], "."))
		}
		var next *model.Type
		for _, f := range t.Named.Fields {
			if f.Name == name {
				next = f.Type
			}
		}
		if next == nil {
			return fmt.Sprintf("record %s has no field %s%s", t.Named.FullName, name, fieldHint(name, t.Named))
		}
		t = next
	}
	if t.Kind == model.Optional {
		t = t.Elem
	}
	switch {
	case !timed:
		switch t.Kind {
		case model.String, model.Enum, model.Int, model.Long, model.Boolean:
			return ""
		}
		return fmt.Sprintf("field %s is %s; partitioning by value wants a string, enum, int, long or boolean", field, typeWords(t))
	case t.Kind == model.Long && timestampMillisOrMicros(t.Logical):
		return ""
	case t.Kind == model.Int && t.Logical == model.Date && gran == "day":
		return ""
	}
	return fmt.Sprintf("field %s is %s; partitioning by %s wants a timestamp-millis or -micros long (or a date, by day)", field, typeWords(t), gran)
}

func timestampMillisOrMicros(l model.Logical) bool {
	switch l {
	case model.TimestampMillis, model.TimestampMicros, model.LocalTimestampMillis, model.LocalTimestampMicros:
		return true
	}
	return false
}
