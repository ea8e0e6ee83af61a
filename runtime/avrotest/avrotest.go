// Package avrotest is a small kit for schema-evolution tests of generated
// record types: that records written with another version of a schema
// (usually an older or newer .avsc file) are readable by a generated type,
// and with which values, the reader's defaults filled in.
//
//	// v1 has no viewable field: the generated (v2) Impression reads its
//	// records with viewable's default, false.
//	func TestReadsV1Impressions(t *testing.T) {
//		avrotest.ReadableAs[ads.Impression](t, "testdata/impression_v1.avsc",
//			avrotest.Case[ads.Impression]{
//				Written: map[string]any{"id": "a", "campaign_id": 7, "device": "PHONE"},
//				Want:    ads.Impression{ID: "a", CampaignID: 7, Device: ads.DeviceTypePhone, Country: "ZZ", Viewable: false},
//			})
//	}
//
// Records are read with the generated UnmarshalAvroFrom, the same schema
// resolution the runtime applies to Confluent-framed records whose writer
// schema it finds in the registry. A record to read is given either as
// Avro binary ([]byte) or as a value that github.com/hamba/avro/v2 can
// marshal with the writer schema: a map[string]any with a key per field
// (enums as their symbol strings, a union as its plain value or as
// map[string]any{"branch type": value}, nil for null; a field left out is
// written with the writer schema's default, as country above), or a struct
// with avro tags.
package avrotest

import (
	"bytes"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/streamgen/streamgen/runtime/codec"
)

// RecordPointer constrains the helpers' second type parameter to *T
// implementing codec.Record, so that callers name only T:
// ReadableAs[ads.Impression](...).
type RecordPointer[T any] = codec.RecordPtr[T]

// Case is one record written with the writer schema and the value the
// reader type must read it as.
type Case[T any] struct {
	// Written is the record: Avro binary ([]byte) written with the writer
	// schema, or a value hamba/avro marshals with it (see the package
	// documentation).
	Written any
	// Want is what the reader type reads: the written values, promoted
	// where the reader's type is wider, and the reader's defaults for the
	// fields the writer does not have.
	Want T
}

// Schema returns the schema fileOrJSON names: fileOrJSON itself if it is
// JSON (it starts with '{', '[' or '"' after blanks), else the contents of
// the file at that path (relative to the test's package directory).
func Schema(tb testing.TB, fileOrJSON string) string {
	tb.Helper()
	if s := strings.TrimSpace(fileOrJSON); s != "" && strings.ContainsRune(`{["`, rune(s[0])) {
		return fileOrJSON
	}
	b, err := os.ReadFile(fileOrJSON)
	if err != nil {
		tb.Fatalf("avrotest: reading the schema: %v", err)
	}
	return string(b)
}

// Write returns the Avro binary encoding of written with the writer schema
// (a file or JSON, see Schema). Avro binary ([]byte) is returned as it is.
func Write(tb testing.TB, writerSchema string, written any) []byte {
	tb.Helper()
	if b, ok := written.([]byte); ok {
		return b
	}
	s, err := avro.ParseWithCache(Schema(tb, writerSchema), "", &avro.SchemaCache{})
	if err != nil {
		tb.Fatalf("avrotest: parsing the writer schema: %v", err)
	}
	b, err := avro.Marshal(s, written)
	if err != nil {
		tb.Fatalf("avrotest: writing %#v with the writer schema: %v", written, err)
	}
	return b
}

// Read reads written (see Write) as T, written with writerSchema (a file
// or JSON, see Schema), and fails the test if T cannot read it.
func Read[T any, PT RecordPointer[T]](tb testing.TB, writerSchema string, written any) T {
	tb.Helper()
	v, err := read[T, PT](tb, writerSchema, written)
	if err != nil {
		tb.Fatalf("avrotest: reading a record written with the writer schema as %T: %v", v, err)
	}
	return v
}

func read[T any, PT RecordPointer[T]](tb testing.TB, writerSchema string, written any) (T, error) {
	tb.Helper()
	schema := Schema(tb, writerSchema)
	src := Write(tb, schema, written)
	var v T
	err := PT(&v).UnmarshalAvroFrom(schema, src)
	return v, err
}

// ReadableAs asserts that T reads every record written with writerSchema
// (a file or JSON, see Schema): by the Avro specification's resolution
// rules nothing written with it is unreadable, not even a single enum
// symbol or union branch T lacks. Then it reads each case's record and
// compares it with the case's Want, reporting each differing field.
func ReadableAs[T any, PT RecordPointer[T]](tb testing.TB, writerSchema string, cases ...Case[T]) {
	tb.Helper()
	schema := Schema(tb, writerSchema)
	if errs := codec.CheckCompatible(PT(new(T)).AvroSchema(), schema); len(errs) > 0 {
		tb.Errorf("avrotest: %T cannot read every record written with the writer schema:\n\t%s", *new(T), joinProblems(errs))
	}
	for i, c := range cases {
		got, err := read[T, PT](tb, schema, c.Written)
		if err != nil {
			tb.Errorf("avrotest: case %d: %v", i, err)
			continue
		}
		if diff := Diff[T, PT](c.Want, got); diff != "" {
			tb.Errorf("avrotest: case %d: read as %T with the writer schema:\n%s", i, got, diff)
		}
	}
}

// NotReadableAs asserts that some record written with writerSchema (a file
// or JSON, see Schema) is unreadable by T, and that the problems found
// mention each of reasons (substrings such as `"campaign_id"` or
// `symbol "TV"`). It returns the problems, as Problems does.
func NotReadableAs[T any, PT RecordPointer[T]](tb testing.TB, writerSchema string, reasons ...string) []string {
	tb.Helper()
	problems := Problems(tb, PT(new(T)).AvroSchema(), writerSchema)
	if len(problems) == 0 {
		tb.Errorf("avrotest: %T reads every record written with the writer schema", *new(T))
		return nil
	}
	all := strings.Join(problems, "\n\t")
	for _, r := range reasons {
		if !strings.Contains(all, r) {
			tb.Errorf("avrotest: no problem mentions %q; the problems are:\n\t%s", r, all)
		}
	}
	return problems
}

// Problems returns every reason why records written with writerSchema
// might not be readable with readerSchema (each a file or JSON, see
// Schema; a generated type's schema is its TSchema constant): none when
// every record is. Use it for schemas without a generated type here, such
// as the version an older consumer still reads with.
func Problems(tb testing.TB, readerSchema, writerSchema string) []string {
	tb.Helper()
	var out []string
	for _, e := range codec.CheckCompatible(Schema(tb, readerSchema), Schema(tb, writerSchema)) {
		out = append(out, e.Error())
	}
	return out
}

// Unreadable asserts that T fails to read written (see Write), written
// with writerSchema, with an error that mentions reason.
func Unreadable[T any, PT RecordPointer[T]](tb testing.TB, writerSchema string, written any, reason string) {
	tb.Helper()
	v, err := read[T, PT](tb, writerSchema, written)
	switch {
	case err == nil:
		tb.Errorf("avrotest: %T read the record, as %+v; want an error mentioning %q", v, v, reason)
	case !strings.Contains(err.Error(), reason):
		tb.Errorf("avrotest: %T failed to read the record with %q; want an error mentioning %q", v, err, reason)
	}
}

// RoundTrip asserts that v written with T's own schema reads back equal.
func RoundTrip[T any, PT RecordPointer[T]](tb testing.TB, v T) {
	tb.Helper()
	b, err := PT(&v).AppendAvro(nil)
	if err != nil {
		tb.Fatalf("avrotest: writing %+v: %v", v, err)
	}
	var got T
	if err := PT(&got).UnmarshalAvro(b); err != nil {
		tb.Fatalf("avrotest: reading back %+v: %v", v, err)
	}
	if diff := Diff[T, PT](v, got); diff != "" {
		tb.Errorf("avrotest: %T round trip:\n%s", v, diff)
	}
}

// Diff returns "" if want and got are the same Avro datum (their encodings
// with T's schema are equal, so a timestamp's location or a decimal's
// representation does not matter), else one line per differing field,
// "field: got X, want Y".
func Diff[T any, PT RecordPointer[T]](want, got T) string {
	wb, werr := PT(&want).AppendAvro(nil)
	gb, gerr := PT(&got).AppendAvro(nil)
	if werr == nil && gerr == nil && bytes.Equal(wb, gb) {
		return ""
	}
	var b strings.Builder
	if werr != nil {
		fmt.Fprintf(&b, "\twant is not a valid %T: %v\n", want, werr)
	}
	wv, gv := reflect.ValueOf(want), reflect.ValueOf(got)
	if wv.Kind() != reflect.Struct {
		fmt.Fprintf(&b, "\tgot %+v\n\twant %+v\n", got, want)
		return b.String()
	}
	for i := range wv.NumField() {
		f := wv.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		w, g := wv.Field(i).Interface(), gv.Field(i).Interface()
		if !reflect.DeepEqual(w, g) {
			fmt.Fprintf(&b, "\t%s: got %s, want %s\n", f.Name, show(g), show(w))
		}
	}
	if b.Len() == 0 { // equal fields, different encodings: show it all
		fmt.Fprintf(&b, "\tgot %+v\n\twant %+v\n", got, want)
	}
	return b.String()
}

// show formats a field value, following pointers.
func show(v any) string {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() {
		return "&" + show(rv.Elem().Interface())
	}
	return fmt.Sprintf("%#v", v)
}

func joinProblems(errs codec.CompatErrors) string {
	s := make([]string, len(errs))
	for i, e := range errs {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n\t")
}
