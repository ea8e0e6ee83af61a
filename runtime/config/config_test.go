package config

import (
	"encoding"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// enum is what every typed setting of this package implements.
type enum interface {
	encoding.TextMarshaler
	fmt.Stringer
	Names() []string
}

// enums pairs each enum's zero value with a pointer to unmarshal into,
// and the spec key its errors name.
func enums() []struct {
	zero    enum
	ptr     encoding.TextUnmarshaler
	setting string
} {
	var (
		sem   Semantics
		reset ResetPolicy
		iso   Isolation
		loc   Location
		dec   DecodePolicy
		store OffsetsStore
		sink  SinkType
	)
	return []struct {
		zero    enum
		ptr     encoding.TextUnmarshaler
		setting string
	}{
		{sem, &sem, "semantics"}, {reset, &reset, "kafka.resetTo"}, {iso, &iso, "kafka.isolation"},
		{loc, &loc, "location.strategy"}, {dec, &dec, "onDecodeError"}, {store, &store, "offsets.store"},
		{sink, &sink, "sink.type"},
	}
}

// TestEnumsRoundTrip: every word of every enum unmarshals to a value that
// marshals and prints as the same word; the zero value is the first word
// (the default); a word that is not one is an error naming the setting
// and the words it accepts.
func TestEnumsRoundTrip(t *testing.T) {
	for _, e := range enums() {
		names := e.zero.Names()
		if len(names) < 2 {
			t.Fatalf("%s: names %v", e.setting, names)
		}
		if got := e.zero.String(); got != names[0] {
			t.Errorf("%s: zero value is %q, want the default %q", e.setting, got, names[0])
		}
		for _, n := range names {
			if err := e.ptr.UnmarshalText([]byte(n)); err != nil {
				t.Fatalf("%s: UnmarshalText(%q): %v", e.setting, n, err)
			}
			v := e.ptr.(enum)
			b, err := v.MarshalText()
			if err != nil || string(b) != n || v.String() != n {
				t.Errorf("%s: %q round-trips to %q (%v), prints %q", e.setting, n, b, err, v.String())
			}
		}
		err := e.ptr.UnmarshalText([]byte("nope"))
		want := fmt.Sprintf("%s: \"nope\" is not %s", e.setting, OrList(names))
		if err == nil || err.Error() != want {
			t.Errorf("%s: UnmarshalText(nope) = %v, want %s", e.setting, err, want)
		}
	}
	if _, err := Semantics(7).MarshalText(); err == nil || !strings.Contains(err.Error(), "semantics: 7 is not a valid value") {
		t.Errorf("MarshalText of an invalid value: %v", err)
	}
	if got := SinkType(9).String(); got != "config.SinkType(9)" {
		t.Errorf("String of an invalid value: %q", got)
	}
}

func TestStartPositionText(t *testing.T) {
	at := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	for text, want := range map[string]StartPosition{
		"committed": StartCommitted(), "earliest": StartEarliest(), "latest": StartLatest(),
		"timestamp:2024-05-01T00:00:00Z": StartAt(at),
	} {
		var p StartPosition
		if err := p.UnmarshalText([]byte(text)); err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		if p.Kind() != want.Kind() || !p.Time().Equal(want.Time()) {
			t.Errorf("%s: got %v", text, p)
		}
		if b, err := p.MarshalText(); err != nil || string(b) != text {
			t.Errorf("%s: marshals to %q, %v", text, b, err)
		}
	}
	if (StartPosition{}) != StartCommitted() {
		t.Error("the zero StartPosition is not committed, the default")
	}
	var p StartPosition
	for text, want := range map[string]string{
		"beginning":                  `kafka.startFrom: "beginning" is not committed, earliest, latest or timestamp:RFC3339`,
		"timestamp:2024-05-01 00:00": "the timestamp must be RFC3339",
		"timestamp":                  `"timestamp" is not committed`,
	} {
		if err := p.UnmarshalText([]byte(text)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", text, err, want)
		}
	}
}

// TestDefault pins the defaults the spec, the engine and the README
// document, so changing one is a decision that shows in review.
func TestDefault(t *testing.T) {
	d := Default()
	if d.BatchInterval != 5*time.Second || d.RetryBackoff != time.Second || d.Isolation != ReadCommitted ||
		d.MaxFailures != 4 || d.MinRatePerPartition != 1 || d.BackpressureMinRate != 100 ||
		d.BackpressureProportional != 1.0 || d.BackpressureIntegral != 0.2 || d.BackpressureDerived != 0 ||
		d.StatusAddr != ":8080" || len(d.Brokers) != 1 || d.Brokers[0] != "localhost:9092" || d.ShutdownTimeout != 0 {
		t.Errorf("Default() = %+v", d)
	}
	if d.Semantics != AtLeastOnce || d.SinkType != SinkNone || d.OffsetsStore != StoreKafka || d.OnDecodeError != FailOnDecodeError ||
		d.Location != LocationConsistent || d.ResetTo != ResetEarliest || d.StartFrom != StartCommitted() {
		t.Errorf("Default() enums = %+v", d)
	}
	if u := new(Default()).Unsupported(); len(u) != 0 {
		t.Errorf("the defaults are not runnable: %v", u)
	}
}

// TestUnsupported: what the runtime cannot run is named by its spec key.
func TestUnsupported(t *testing.T) {
	for _, tc := range []struct {
		job  Job
		want []string
	}{
		{Job{Semantics: AtMostOnce}, nil},
		{Job{Semantics: ExactlyOnce, SinkType: SinkPostgres, OffsetsStore: StorePostgres}, nil},
		{Job{SinkType: SinkPostgres}, []string{`sink.type: "postgres" commits each batch's output together with its offsets, in one transaction: it runs with semantics exactly-once, not "at-least-once"`}},
		{Job{SinkType: SinkFiles, OffsetsStore: StoreFiles, Semantics: ExactlyOnce}, nil},
		{Job{SinkType: SinkFiles, OffsetsStore: StoreFiles}, []string{`sink.type: "files" publishes each partition-batch as one file`}},
		{Job{OffsetsStore: StoreFiles}, []string{`offsets.store: "files" is the files sink's store`}},
		{Job{SinkType: SinkKafka}, nil},
		{Job{SinkType: SinkKafka, Semantics: ExactlyOnce}, nil},
		{Job{SinkType: SinkKafka, OffsetsStore: StorePostgres}, []string{`offsets.store: "postgres": the kafka sink commits the offsets itself`}},
		{Job{OffsetsStore: StorePostgres}, nil},
		{Job{OffsetsStore: StorePostgres, Semantics: AtMostOnce}, nil},
	} {
		got := tc.job.Unsupported()
		if len(got) != len(tc.want) {
			t.Errorf("%+v: %v, want %d errors", tc.job, got, len(tc.want))
			continue
		}
		for i, w := range tc.want {
			if !strings.Contains(got[i].Error(), w) {
				t.Errorf("error %d = %v, want %q", i, got[i], w)
			}
		}
	}
}

// TestSettingsFillEveryField: each field of Job is filled by exactly one
// setting, so a field added without its entry in Settings fails here;
// keys and flags are unique; every default has its field's type.
func TestSettingsFillEveryField(t *testing.T) {
	var j Job
	fields := map[uintptr]string{}
	v := reflect.ValueOf(&j).Elem()
	for i := range v.NumField() {
		fields[v.Field(i).Addr().Pointer()] = v.Type().Field(i).Name
	}
	filled := map[string]string{}
	keys, flags := map[string]bool{}, map[string]string{}
	for _, s := range Settings() {
		f, ok := fields[reflect.ValueOf(s.Value(&j)).Pointer()]
		if !ok {
			t.Errorf("%s: Value is not a pointer to a field of Job", s.Key)
		} else if other, dup := filled[f]; dup {
			t.Errorf("%s and %s both fill Job.%s", s.Key, other, f)
		}
		filled[f] = s.Key
		if keys[s.Key] {
			t.Errorf("%s is in Settings twice", s.Key)
		}
		keys[s.Key] = true
		if other, dup := flags[FlagName(s.Key)]; dup {
			t.Errorf("%s and %s share the flag --%s", s.Key, other, FlagName(s.Key))
		}
		flags[FlagName(s.Key)] = s.Key
		s.DefaultValue() // panics on a default of another type than its field's
		if s.NotInSpec && s.Wired {
			t.Errorf("%s: a setting neither in the spec nor a flag", s.Key)
		}
	}
	for _, f := range fields {
		if _, ok := filled[f]; !ok {
			t.Errorf("Job.%s: no setting fills it; add its entry to Settings", f)
		}
	}
}
