package names

import (
	"path"
	"strings"
)

// The names below are what a generated package declares besides the Go
// names of its types. They live here, in one place, because two stages
// must agree on them: gen/schema reserves them before it names the types
// (so that a record named ImpressionSchema next to Impression, or one named
// JobName, gets a name of its own), and gen/golang declares them.

// JobNames are the job-level names of a generated package.
var JobNames = []string{"JobName", "Config", "DefaultConfig", "Batch", "Handler", "Run", "Main", "Passthrough"}

// RecordSchema names the schema constant of record t.
func RecordSchema(t string) string { return t + "Schema" }

// RecordFingerprint names the fingerprint constant of record t.
func RecordFingerprint(t string) string { return t + "Fingerprint" }

// RecordNew names the constructor of record t that sets the schema's
// defaults.
func RecordNew(t string) string { return "New" + t }

// RecordOCFWriter and RecordOCFReader name the constructors of the typed
// object container file writer and reader of record t.
func RecordOCFWriter(t string) string { return "New" + t + "OCFWriter" }
func RecordOCFReader(t string) string { return "New" + t + "OCFReader" }

// RecordNames are the package-level names a record type named t declares:
// t itself first, then its constants and functions.
func RecordNames(t string) []string {
	return []string{t, RecordSchema(t), RecordFingerprint(t), RecordNew(t), RecordOCFWriter(t), RecordOCFReader(t)}
}

// RecordMethods are the exported methods of every generated record type;
// its fields may not take their names.
var RecordMethods = []string{"AppendAvro", "UnmarshalAvro", "UnmarshalAvroFrom", "AvroSchema", "MarshalJSON", "UnmarshalJSON", "DecodeAvro", "Clone"}

// StreamRecord, StreamBatch and StreamPartition name the aliases of the
// runtime's types for the stream whose Go name is s.
func StreamRecord(s string) string    { return s + "Record" }
func StreamBatch(s string) string     { return s + "Batch" }
func StreamPartition(s string) string { return s + "Partition" }

// StreamWriterSchema names the writer schema constant of a raw stream with
// a writerSchema.
func StreamWriterSchema(s string) string { return s + "WriterSchema" }

// StreamValue names the projected value type of stream s, whose spec
// lists the fields it reads; ProjectedField names the projection of a
// nested record that the projection t holds some fields of, the field
// written name in the schema.
func StreamValue(s string) string          { return s + "Value" }
func ProjectedField(t, name string) string { return t + Camel(name) }

// StreamNames are the package-level names stream s declares. fields are
// its spec's field paths (none when it reads the whole value).
func StreamNames(s string, writerSchema bool, fields []string) []string {
	out := []string{StreamRecord(s), StreamBatch(s), StreamPartition(s)}
	if writerSchema {
		out = append(out, StreamWriterSchema(s))
	}
	if len(fields) > 0 {
		out = append(out, StreamValue(s))
	}
	// One type per nested record a path goes into: geo.country makes
	// ImpressionsValueGeo.
	seen := map[string]bool{}
	for _, f := range fields {
		t := StreamValue(s)
		parts := strings.Split(f, ".")
		for _, p := range parts[:len(parts)-1] {
			t = ProjectedField(t, p)
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	return out
}

// HelperPrefix starts every unexported name the generated code declares
// (package-level helpers and methods) and every name it imports a package
// under. Generated exported names start with an upper-case letter, so none
// of them is a helper's; hand-written code of the package rarely starts a
// name with it, and streamgen generate reports the declaration that does.
const HelperPrefix = "sg"

// Helper names an unexported generated helper: Helper("ImpressionResolver")
// is "sgImpressionResolver".
func Helper(name string) string { return HelperPrefix + name }

// ImportAlias is the name generated files import a package under: the
// prefix and the package's name ("sgruntime", "sgcodec", "sgtime",
// "sgbig" for math/big), so that hand-written files of the package may
// declare codec, runtime or time at package level.
func ImportAlias(importPath string) string {
	return HelperPrefix + strings.ToLower(Ident(path.Base(importPath)))
}
