package codec

import "errors"

// Record is what streamgen generates for every Avro record type T: *T
// implements it. It is the one interface the runtime, its serde and
// avrotest know generated records by.
type Record interface {
	// AppendAvro appends the Avro binary encoding, no header.
	AppendAvro(dst []byte) ([]byte, error)
	// UnmarshalAvro decodes bytes written with exactly the type's schema.
	UnmarshalAvro(src []byte) error
	// UnmarshalAvroFrom decodes bytes written with another, compatible
	// schema, by Avro schema resolution.
	UnmarshalAvroFrom(writerSchema string, src []byte) error
	// AvroSchema is the type's schema JSON (the package's TSchema).
	AvroSchema() string
}

// RecordPtr constrains a type parameter to *T implementing Record, so that
// generic helpers are called with T alone: RawAvroInto[Impression]().
type RecordPtr[T any] interface {
	*T
	Record
}

// Ptr returns a pointer to a copy of v. Generated NewT functions use it for
// an optional field whose default is not null.
func Ptr[T any](v T) *T { return &v }

// ErrUnsetEnum is the encoding error of an enum that holds "", the zero
// value of a generated enum type, which is no symbol. Generated NewT
// functions give every enum field a symbol.
var ErrUnsetEnum = errors.New(`unset enum (its zero value "" is not a symbol)`)

// FieldError is an encoding error with the path of the field it concerns,
// dotted from the top-level record ("geo.country"; "[]" marks array items
// and map values).
type FieldError struct {
	Path string
	Err  error
}

func (e *FieldError) Error() string { return "field " + e.Path + ": " + e.Err.Error() }

func (e *FieldError) Unwrap() error { return e.Err }

// FieldErr returns err as a FieldError of field path within the record
// being encoded: generated encoders call it on the way out of each field, so
// that an error from a nested record gets the outer field's name in front.
func FieldErr(path string, err error) error {
	if fe, ok := err.(*FieldError); ok {
		return &FieldError{Path: path + "." + fe.Path, Err: fe.Err}
	}
	return &FieldError{Path: path, Err: err}
}
