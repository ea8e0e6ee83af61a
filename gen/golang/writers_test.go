package golang

import (
	"fmt"
	"strings"
	"testing"

	"github.com/streamgen/streamgen/gen/model"
	"github.com/streamgen/streamgen/gen/names"
	"github.com/streamgen/streamgen/runtime/codec"
	"github.com/streamgen/streamgen/runtime/config"
)

// userReader is the reader schema of the writer-decoder tests.
const userReader = `{"type":"record","name":"User","namespace":"com.ex","fields":[` +
	`{"name":"id","type":"long"},` +
	`{"name":"name","type":"string"},` +
	`{"name":"email","type":["null","string"],"default":null},` +
	`{"name":"score","type":"double","default":0},` +
	`{"name":"tags","type":{"type":"array","items":"long"},"default":[]},` +
	`{"name":"kind","type":{"type":"enum","name":"Kind","symbols":["A","B","C"],"default":"A"}},` +
	`{"name":"addr","type":{"type":"record","name":"Addr","fields":[{"name":"city","type":"string"}]}},` +
	`{"name":"nick","type":["null","string"],"default":null},` +
	`{"name":"alt","type":["null","long"],"default":null},` +
	`{"name":"labels","type":{"type":"map","values":"string"}},` +
	`{"name":"counts","type":{"type":"map","values":"double"},"default":{}}]}`

// userV1 is an earlier version of User that resolves to it: promotions,
// a renamed enum order with a symbol the reader lacks, a nested record
// with a removed field, a non-union written where the reader has an
// optional, fields the reader dropped (of every kind the skipper knows)
// and fields the reader added.
const userV1 = `{"type":"record","name":"User","namespace":"com.ex","fields":[` +
	`{"name":"id","type":"int"},` +
	`{"name":"name","type":"bytes"},` +
	`{"name":"legacy","type":"boolean"},` +
	`{"name":"score","type":"float"},` +
	`{"name":"tags","type":{"type":"array","items":"int"}},` +
	`{"name":"kind","type":{"type":"enum","name":"Kind","symbols":["B","A","D"]}},` +
	`{"name":"addr","type":{"type":"record","name":"Addr","fields":[{"name":"zip","type":"int"},{"name":"city","type":"string"}]}},` +
	`{"name":"nick","type":"string"},` +
	`{"name":"alt","type":["null","int"]},` +
	`{"name":"labels","type":{"type":"map","values":"string"}},` +
	`{"name":"blob","type":{"type":"fixed","name":"Blob","size":2}},` +
	`{"name":"extra","type":["null",{"type":"record","name":"X","fields":[{"name":"a","type":"string"},{"name":"b","type":{"type":"array","items":"null"}}]}]},` +
	`{"name":"m","type":{"type":"map","values":"long"}},` +
	`{"name":"e","type":{"type":"enum","name":"E","symbols":["P","Q"]}},` +
	`{"name":"f","type":"double"}]}`

// Writers the emitter leaves to the transcoder.
const (
	// The runtime refuses it: a string id does not resolve to a long.
	userRefused = `{"type":"record","name":"User","namespace":"com.ex","fields":[{"name":"id","type":"string"}]}`
	// A dropped field of a recursive type cannot be skipped by
	// straight-line code.
	userRecursive = `{"type":"record","name":"User","namespace":"com.ex","fields":[` +
		`{"name":"id","type":"long"},{"name":"name","type":"string"},` +
		`{"name":"kind","type":{"type":"enum","name":"Kind","symbols":["A"]}},` +
		`{"name":"addr","type":{"type":"record","name":"Addr","fields":[{"name":"city","type":"string"}]}},` +
		`{"name":"labels","type":{"type":"map","values":"string"}},` +
		`{"name":"list","type":{"type":"record","name":"Node","fields":[{"name":"next","type":["null","Node"]}]}}]}`
)

func usersPackage(writerSchema string, known ...string) (*model.Package, *model.Named) {
	kind := &model.Named{Kind: model.Enum, FullName: "com.ex.Kind", GoName: "Kind",
		Symbols: []string{"A", "B", "C"}, SymbolGoNames: []string{"KindA", "KindB", "KindC"}, EnumDefault: "A"}
	addr := record("com.ex.Addr", "Addr", "{}", fld("city", "City", prim(model.String), ""))
	user := record("com.ex.User", "User", userReader,
		fld("id", "ID", prim(model.Long), ""),
		fld("name", "Name", prim(model.String), ""),
		fld("email", "Email", optional(prim(model.String), 0), "null"),
		fld("score", "Score", prim(model.Double), "0"),
		fld("tags", "Tags", arrayOf(prim(model.Long)), "[]"),
		fld("kind", "Kind", ref(kind), ""),
		fld("addr", "Addr", ref(addr), ""),
		fld("nick", "Nick", optional(prim(model.String), 0), "null"),
		fld("alt", "Alt", optional(prim(model.Long), 0), "null"),
		fld("labels", "Labels", mapOf(prim(model.String)), ""),
		fld("counts", "Counts", mapOf(prim(model.Double)), "{}"),
	)
	p := &model.Package{
		Name:    "users",
		Job:     model.Job{Name: "users", Config: config.Default()},
		Named:   []*model.Named{kind, addr, user},
		Sources: []string{"streamgen.yaml"},
		Streams: []*model.Stream{
			{Name: "raw", GoName: "Raw", Value: ref(user), Encoding: model.Raw, Consumer: subscribe("r"), WriterSchema: writerSchema, WriterSchemaFile: "v1.avsc"},
			{Name: "so", GoName: "So", Value: ref(user), Encoding: model.SingleObject, Consumer: subscribe("s"), KnownWriters: known},
		},
	}
	return p, user
}

func fingerprint(t *testing.T, schema string) uint64 {
	t.Helper()
	fp, err := codec.Fingerprint(schema)
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

// TestWriterDecoders: a writer schema known at generation time gets a
// straight-line decoder into the reader's type, registered with the
// record's resolver by fingerprint; a writer known twice gets one.
func TestWriterDecoders(t *testing.T) {
	p, _ := usersPackage(userV1, userV1, userRefused, userRecursive, userReader)
	g := generate(t, p)
	fp := fmt.Sprintf("%016x", fingerprint(t, userV1))
	entry, method := names.Helper("UnmarshalAvroFrom"+fp), decodeAvroHelper+"From"+fp
	contains(t, "codec.go", g.src["codec.go"],
		"var sgUserResolver = sgsync.OnceValue(func() *"+codecAlias+".Resolver {\n\treturn "+codecAlias+".NewResolver(UserSchema, "+codecAlias+
			".WriterDecoder{\n\t\tDecode: (*User)."+entry+",\n\t\tFingerprint: 0x"+fp+",\n\t})\n})",
		"time (0x"+fp+") a generated decoder as fast")
	if n := strings.Count(g.src["codec.go"], codecAlias+".WriterDecoder{"); n != 1 {
		t.Errorf("%d writer decoders, want 1 (v1's; the others are refused, recursive or the reader's own)", n)
	}
	contains(t, entry, g.fn("*User", entry), "r."+method+"(&d)", "d.Finish()")
	fields := fieldStmts(t, g.fn("*User", method), named(p, "User"))
	for field, want := range map[string][]string{
		"id":     {"r.ID = int64(d.Int())"},
		"name":   {"r.Name = d.String()"},
		"score":  {"d.Bool()", "r.Score = float64(d.Float())"}, // legacy skipped first
		"tags":   {" := r.Tags[:0]", "d.BlockCount(1)", "[:len(c", ")+1]", "= int64(d.Int())", "r.Tags = c"},
		"kind":   {"switch d.Enum(3) {", "case 0: r.Kind = KindB", "case 1: r.Kind = KindA", "case 2: r.Kind = KindA"},
		"nick":   {"if r.Nick == nil {\n\tr.Nick = new(string)", "(*r.Nick) = d.String()"},
		"alt":    {"switch d.UnionIndex(2) {", "case 0: r.Alt = nil", "case 1:", "if r.Alt == nil {", "r.Alt = new(int64)", "(*r.Alt) = int64(d.Int())"},
		"labels": {"d.BlockCount(2)", "r.Labels = m"}, // the same type: the reader's own decoder
		"email":  {"r.Email = nil"},
		"counts": {"r.Counts = nil"}, // an empty default allocates nothing
	} {
		contains(t, "decoder of "+field, fields[field], want...)
	}
	// Dropped writer fields, after the last reader field the writer has.
	contains(t, method, g.fn("*User", method),
		"d.SkipFixed(2)", "switch d.UnionIndex(2) {", "d.SkipBytes()", "d.BlockCount(0)", "d.BlockCount(1)", "d.Enum(2)", "d.Double()")
	addrFP := fmt.Sprintf("%016x", fingerprint(t, `{"type":"record","name":"com.ex.Addr","fields":[{"name":"zip","type":"int"},{"name":"city","type":"string"}]}`))
	contains(t, "decoder of addr", fields["addr"], "r.Addr."+decodeAvroHelper+"From"+addrFP+"(d)")
	contains(t, "Addr's", g.fn("*Addr", decodeAvroHelper+"From"+addrFP), "d.Long()", "r.City = d.String()")
}

// TestNoWriterDecoders: writers the emitter cannot or need not
// specialize get none, and the doc says so.
func TestNoWriterDecoders(t *testing.T) {
	p, _ := usersPackage(userRefused, userRecursive, userReader, "not json")
	g := generate(t, p)
	lacks(t, "codec.go", g.src["codec.go"], codecAlias+".WriterDecoder{", "sgUnmarshalAvroFrom")
	contains(t, "codec.go", g.src["codec.go"], "time a generated decoder as fast (there is none for this type), and any other")
	if got := knownWriters(p)[named(p, "User")]; len(got) != 3 {
		t.Errorf("knownWriters: %d, want the 3 that parse", len(got))
	}
}
