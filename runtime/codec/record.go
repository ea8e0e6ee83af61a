package codec

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
