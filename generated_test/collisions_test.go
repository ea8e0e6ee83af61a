package generated_test

import (
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/streamgen/streamgen/generated_test/cases/collisions/collisions"
)

// TestDerivedNamesAreReserved: the record named like Impression's schema
// constant, the one named like the job's JobName and the one named like
// Impression's fingerprint constant (with no namespace to tell it apart)
// get names of their own, Impression keeps its name and constants, and
// the field avro_schema does not take the AvroSchema method's name, nor
// the union type of field schema (ImpressionSchema2) the constant's.
// That the package compiles, next to a hand-written file declaring codec,
// runtime, time and fmt, is most of the test.
func TestDerivedNamesAreReserved(t *testing.T) {
	for _, c := range []struct {
		schema, fullName string
	}{
		{collisions.ImpressionSchema, "org.streamgen.test.collisions.Impression"},
		{collisions.CollisionsImpressionSchemaSchema, "org.streamgen.test.collisions.ImpressionSchema"},
		{collisions.CollisionsJobNameSchema, "org.streamgen.test.collisions.JobName"},
		{collisions.ImpressionFingerprint2Schema, "ImpressionFingerprint"},
	} {
		if got := avro.MustParse(c.schema).(avro.NamedSchema).FullName(); got != c.fullName {
			t.Errorf("schema constant of %s describes %s", c.fullName, got)
		}
	}
	if collisions.JobName != "collisions" {
		t.Errorf("JobName = %q", collisions.JobName)
	}
	if _, ok := reflect.TypeFor[collisions.Impression]().FieldByName("AvroSchema_"); !ok {
		t.Error("Impression has no field AvroSchema_ for avro_schema")
	}
	var imp collisions.Impression
	if imp.AvroSchema() != collisions.ImpressionSchema {
		t.Error("Impression.AvroSchema() is not ImpressionSchema")
	}
}

// TestCollidingNamesRoundTrip: the renamed field still carries its Avro
// name, so hamba/avro reads what the generated codec writes.
func TestCollidingNamesRoundTrip(t *testing.T) {
	in := collisions.Impression{
		ID: "i1", AvroSchema_: `{"type":"string"}`, At: time.UnixMilli(1700000000123).UTC(),
		Device: collisions.DeviceTablet, Payload: collisions.ImpressionPayloadLong{Value: 7},
		Price: big.NewRat(1999, 100), Tags: map[string][]string{"a": {"x", "y"}},
		Schema: collisions.ImpressionSchema2String{Value: "v1"},
	}
	b, err := in.AppendAvro(nil)
	if err != nil {
		t.Fatal(err)
	}
	var viaHamba map[string]any
	if err := avro.Unmarshal(avro.MustParse(collisions.ImpressionSchema), b, &viaHamba); err != nil {
		t.Fatal(err)
	}
	if viaHamba["avro_schema"] != in.AvroSchema_ {
		t.Errorf("hamba reads avro_schema = %v, want %q", viaHamba["avro_schema"], in.AvroSchema_)
	}
	var out collisions.Impression
	if err := out.UnmarshalAvro(b); err != nil {
		t.Fatal(err)
	}
	if out.AvroSchema_ != in.AvroSchema_ || out.Price.Cmp(in.Price) != 0 || !out.At.Equal(in.At) || !reflect.DeepEqual(out.Tags, in.Tags) || out.Payload != in.Payload || out.Schema != in.Schema {
		t.Errorf("round trip: got %+v, want %+v", out, in)
	}
	var js collisions.CollisionsJobName
	if err := js.UnmarshalAvroFrom(collisions.CollisionsJobNameSchema, []byte{6, 'j', 'o', 'b'}); err != nil || js.Name != "job" {
		t.Errorf("CollisionsJobName: %+v, %v", js, err)
	}
}
