package codec

import (
	"fmt"

	"github.com/hamba/avro/v2"
)

// Logical types change what a value's bytes mean without changing how they
// parse: the unscaled integer 1999 is 19.99 as decimal(12,2) and 1.999 as
// decimal(12,3); a long is a different instant as timestamp-millis than as
// timestamp-micros. Resolution must therefore look at them, although the
// Parsing Canonical Form (and so the CRC-64-AVRO fingerprint) drops them.
//
// The rule, for a writer and a reader type whose underlying types match:
//   - the same logical type (for decimals: the same precision and scale):
//     compatible;
//   - the reader has none: compatible, the reader gets the underlying value
//     the writer wrote (days since the epoch for a date read as int);
//   - otherwise (another logical type, other decimal parameters, or one the
//     writer never declared): incompatible. The Avro specification matches
//     two decimals only when their scales and precisions match; the others
//     follow the same reasoning, since reading them would give the writer's
//     values a meaning it did not write.

// logical is the logical type that streamgen's decoders apply to a schema:
// Name is "" when there is none (or when it is unknown or placed on the
// wrong underlying type, which the specification says to ignore).
type logical struct {
	Name             string
	Precision, Scale int
}

func (l logical) String() string {
	switch {
	case l.Name == "":
		return "no logical type"
	case l.Name == string(avro.Decimal):
		return fmt.Sprintf("decimal(%d,%d)", l.Precision, l.Scale)
	}
	return l.Name
}

// logicalOf mirrors what the generator maps to Go types (gen/schema): a
// logical type counts only on the underlying type it is defined for.
func logicalOf(s avro.Schema) logical {
	switch s := deref(s).(type) {
	case *avro.FixedSchema:
		switch l := s.Logical().(type) {
		case *avro.DecimalLogicalSchema:
			return logical{Name: string(avro.Decimal), Precision: l.Precision(), Scale: l.Scale()}
		case nil:
		default:
			if l.Type() == avro.Duration && s.Size() == 12 {
				return logical{Name: string(avro.Duration)}
			}
		}
	case *avro.PrimitiveSchema:
		name := ""
		if l := s.Logical(); l != nil {
			if d, ok := l.(*avro.DecimalLogicalSchema); ok {
				if s.Type() == avro.Bytes {
					return logical{Name: string(avro.Decimal), Precision: d.Precision(), Scale: d.Scale()}
				}
				return logical{}
			}
			name = string(l.Type())
		} else if p, ok := s.Prop("logicalType").(string); ok {
			name = p // hamba does not know the nanosecond types
		}
		if logicalBase[name] == s.Type() {
			return logical{Name: name}
		}
	}
	return logical{}
}

// logicalBase is the underlying type of each logical type streamgen
// decodes (decimal and duration aside).
var logicalBase = map[string]avro.Type{
	"timestamp-millis":       avro.Long,
	"timestamp-micros":       avro.Long,
	"timestamp-nanos":        avro.Long,
	"local-timestamp-millis": avro.Long,
	"local-timestamp-micros": avro.Long,
	"local-timestamp-nanos":  avro.Long,
	"time-micros":            avro.Long,
	"time-millis":            avro.Int,
	"date":                   avro.Int,
	"uuid":                   avro.String,
}

// logicalChange says why reading a w as r would change the meaning of the
// writer's values, or "" if it would not (see the rule above). The
// underlying types already match or promote.
func logicalChange(w, r avro.Schema) string {
	lw, lr := logicalOf(w), logicalOf(r)
	switch {
	case lw == lr, lr.Name == "":
		return ""
	case lw.Name == string(avro.Decimal) && lr.Name == string(avro.Decimal):
		var what string
		switch {
		case lw.Scale != lr.Scale && lw.Precision != lr.Precision:
			what = fmt.Sprintf("decimal scale changed from %d to %d and precision from %d to %d", lw.Scale, lr.Scale, lw.Precision, lr.Precision)
		case lw.Scale != lr.Scale:
			what = fmt.Sprintf("decimal scale changed from %d to %d (precision %d)", lw.Scale, lr.Scale, lw.Precision)
		default:
			what = fmt.Sprintf("decimal precision changed from %d to %d (scale %d)", lw.Precision, lr.Precision, lw.Scale)
		}
		return what + ": the writer's unscaled integers would be read as other numbers; Avro matches decimals only with equal scale and precision"
	case lw.Name == "":
		return fmt.Sprintf("logical type %s added to the writer's %s: the writer never declared that meaning for its values", lr, typeName(w))
	}
	return fmt.Sprintf("logical type changed from %s to %s: the writer's %s values would be read with another meaning", lw, lr, typeName(w))
}
