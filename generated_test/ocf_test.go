package generated_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/ocf"
	"github.com/linkedin/goavro/v2"

	"github.com/streamgen/streamgen/generated_test/cases/alltypes/alltypes"
	"github.com/streamgen/streamgen/runtime/codec"
)

// The typed object container file writer and reader (NewImpressionOCFWriter,
// NewImpressionOCFReader) are checked both ways against hamba/avro's ocf
// package (null, deflate, snappy, zstandard) and goavro's OCF (null,
// deflate, snappy: goavro has no zstandard).

var ocfCodecs = []codec.OCFCodec{codec.OCFNull, codec.OCFDeflate, codec.OCFSnappy, codec.OCFZstd}

func goavroHas(c codec.OCFCodec) bool { return c != codec.OCFZstd }

// ocfImpressions draws n random Impressions, decoded by the generated code
// from hamba's encoding of random values.
func ocfImpressions(t *testing.T, n int) []alltypes.Impression {
	t.Helper()
	schema := parseSchema(t, alltypes.ImpressionSchema)
	g := newValueGen(seedFor(t.Name()), 3)
	out := make([]alltypes.Impression, n)
	for i := range out {
		b, err := hambaFlat.Marshal(schema, g.value(schema, "", 0))
		if err != nil {
			t.Fatal(err)
		}
		if err := out[i].UnmarshalAvro(b); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func writeOCF(t *testing.T, recs []alltypes.Impression, opts ...codec.OCFOption) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := alltypes.NewImpressionOCFWriter(&buf, opts...)
	if err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		if err := w.Write(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readOCF(t *testing.T, data []byte) []alltypes.Impression {
	t.Helper()
	r, err := alltypes.NewImpressionOCFReader(bytes.NewReader(data), "test.avro")
	if err != nil {
		t.Fatal(err)
	}
	var out []alltypes.Impression
	for {
		var v alltypes.Impression
		err := r.Read(&v)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("record %d: %v", len(out), err)
		}
		out = append(out, v)
	}
}

func TestOCFWriterReadByHambaAndGoavro(t *testing.T) {
	recs := ocfImpressions(t, 300)
	for _, c := range ocfCodecs {
		t.Run(string(c), func(t *testing.T) {
			// 2 KiB blocks: about 10 records each, so many blocks.
			data := writeOCF(t, recs, codec.WithOCFCodec(c), codec.WithOCFBlockSize(2<<10))
			dec, err := ocf.NewDecoder(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if got := string(dec.Metadata()["avro.codec"]); got != string(c) {
				t.Errorf("hamba reads codec %q", got)
			}
			var fromHamba []alltypes.Impression
			for dec.HasNext() {
				var v alltypes.Impression
				if err := dec.Decode(&v); err != nil {
					t.Fatal(err)
				}
				fromHamba = append(fromHamba, v)
			}
			if err := dec.Error(); err != nil {
				t.Fatalf("hamba: %v", err)
			}
			if diff := cmp.Diff(recs, fromHamba, cmpOpts); diff != "" {
				t.Fatalf("hamba reads other records (-written +read):\n%s", diff)
			}
			if diff := cmp.Diff(recs, readOCF(t, data), cmpOpts); diff != "" {
				t.Fatalf("NewImpressionOCFReader reads other records (-written +read):\n%s", diff)
			}
			if !goavroHas(c) {
				return
			}
			gr, err := goavro.NewOCFReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			var fromGoavro []alltypes.Impression
			for gr.Scan() {
				native, err := gr.Read()
				if err != nil {
					t.Fatal(err)
				}
				b, err := gr.Codec().BinaryFromNative(nil, native)
				if err != nil {
					t.Fatal(err)
				}
				var v alltypes.Impression
				if err := v.UnmarshalAvro(b); err != nil {
					t.Fatal(err)
				}
				fromGoavro = append(fromGoavro, v)
			}
			if err := gr.Err(); err != nil {
				t.Fatalf("goavro: %v", err)
			}
			if diff := cmp.Diff(recs, fromGoavro, cmpOpts); diff != "" {
				t.Fatalf("goavro reads other records (-written +read):\n%s", diff)
			}
		})
	}
}

func TestOCFReaderReadsHambaAndGoavro(t *testing.T) {
	recs := ocfImpressions(t, 300)
	for _, c := range ocfCodecs {
		t.Run(string(c), func(t *testing.T) {
			var buf bytes.Buffer
			enc, err := ocf.NewEncoder(alltypes.ImpressionSchema, &buf, ocf.WithCodec(ocf.CodecName(c)), ocf.WithBlockLength(7))
			if err != nil {
				t.Fatal(err)
			}
			for i := range recs {
				if err := enc.Encode(&recs[i]); err != nil {
					t.Fatal(err)
				}
			}
			if err := enc.Close(); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(recs, readOCF(t, buf.Bytes()), cmpOpts); diff != "" {
				t.Fatalf("hamba's file reads as other records (-written +read):\n%s", diff)
			}
			if !goavroHas(c) {
				return
			}
			buf.Reset()
			gcodec, err := goavro.NewCodec(alltypes.ImpressionSchema)
			if err != nil {
				t.Fatal(err)
			}
			gw, err := goavro.NewOCFWriter(goavro.OCFConfig{W: &buf, Codec: gcodec, CompressionName: string(c)})
			if err != nil {
				t.Fatal(err)
			}
			for i := range recs {
				b, err := recs[i].AppendAvro(nil)
				if err != nil {
					t.Fatal(err)
				}
				native, _, err := gcodec.NativeFromBinary(b)
				if err != nil {
					t.Fatal(err)
				}
				// Several appends, so the file has several blocks.
				if err := gw.Append([]any{native}); err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff(recs, readOCF(t, buf.Bytes()), cmpOpts); diff != "" {
				t.Fatalf("goavro's file reads as other records (-written +read):\n%s", diff)
			}
		})
	}
}

// TestOCFReaderResolves: a file written with an older Impression schema
// reads as today's Impression, as hamba resolves it.
func TestOCFReaderResolves(t *testing.T) {
	writerSchema := impressionWriter(t, reorderWithoutLatency)
	writer := parseSchema(t, writerSchema)
	resolved, err := avro.NewSchemaCompatibility().Resolve(parseSchema(t, alltypes.ImpressionSchema), writer)
	if err != nil {
		t.Fatal(err)
	}
	g := newValueGen(seedFor(t.Name()), 2)
	var buf bytes.Buffer
	enc, err := ocf.NewEncoder(writerSchema, &buf, ocf.WithCodec(ocf.Deflate), ocf.WithBlockLength(5))
	if err != nil {
		t.Fatal(err)
	}
	var want []alltypes.Impression
	for range 50 {
		datum := g.value(writer, "", 0)
		b, err := hambaFlat.Marshal(writer, datum)
		if err != nil {
			t.Fatal(err)
		}
		var v alltypes.Impression
		if err := hambaFlat.Unmarshal(resolved, b, &v); err != nil {
			t.Fatal(err)
		}
		want = append(want, v)
		if err := enc.Encode(datum); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, readOCF(t, buf.Bytes()), cmpOpts); diff != "" {
		t.Fatalf("resolved records differ from hamba's (-hamba +read):\n%s", diff)
	}
}

func TestOCFWriterDeterministicAndBlockSize(t *testing.T) {
	recs := ocfImpressions(t, 100)
	marker := codec.WithOCFSyncMarker([16]byte{1, 2, 3})
	a := writeOCF(t, recs, marker, codec.WithOCFBlockSize(1<<10))
	b := writeOCF(t, recs, marker, codec.WithOCFBlockSize(1<<10))
	if !bytes.Equal(a, b) {
		t.Error("the same records and sync marker give different files")
	}
	blocks := func(data []byte) int {
		return bytes.Count(data, []byte{1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) - 1 // less the header's
	}
	small, large := blocks(a), blocks(writeOCF(t, recs, marker))
	if large != 1 || small < 10 {
		t.Errorf("blocks: %d with 1 KiB blocks, %d with the default size; want >= 10 and 1", small, large)
	}
}

func TestOCFReaderErrors(t *testing.T) {
	recs := ocfImpressions(t, 40)
	data := writeOCF(t, recs, codec.WithOCFSyncMarker([16]byte{9, 9, 9}), codec.WithOCFBlockSize(1<<10), codec.WithOCFCodec(codec.OCFSnappy))
	read := func(data []byte) error {
		r, err := alltypes.NewImpressionOCFReader(bytes.NewReader(data), "clicks.avro")
		if err != nil {
			return err
		}
		for {
			var v alltypes.Impression
			if err := r.Read(&v); err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
		}
	}
	if err := read(data); err != nil {
		t.Fatal(err)
	}
	// The second block's sync marker.
	i := bytes.Index(data, []byte{9, 9, 9})           // header
	i += 3 + bytes.Index(data[i+3:], []byte{9, 9, 9}) // first block
	i += 3 + bytes.Index(data[i+3:], []byte{9, 9, 9}) // second block
	bad := bytes.Clone(data)
	bad[i] = 8
	err := read(bad)
	if !errors.Is(err, codec.ErrOCF) || !bytes.Contains([]byte(err.Error()), []byte("clicks.avro: offset")) || !bytes.Contains([]byte(err.Error()), []byte("block 2 is not followed by the file's sync marker")) {
		t.Errorf("a broken sync marker: %v", err)
	}
	if err := read(data[:len(data)-20]); !errors.Is(err, codec.ErrOCF) {
		t.Errorf("a truncated file: %v, want ErrOCF", err)
	}
	if err := read([]byte("PAR1")); err == nil || !errors.Is(err, codec.ErrOCF) {
		t.Errorf("not an OCF: %v", err)
	}
	other := writeOCFOf(t, alltypes.NewClick())
	if err := read(other); err == nil {
		t.Error("a file of Clicks reads as Impressions")
	}
}

func writeOCFOf(t *testing.T, c alltypes.Click) []byte {
	var buf bytes.Buffer
	w, err := alltypes.NewClickOCFWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(&c); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// FuzzOCFReader: whatever the bytes, reading them as an object container
// file returns records or an error, never panics or allocates without bound.
func FuzzOCFReader(f *testing.F) {
	recs := []alltypes.Impression{benchImpression(), alltypes.NewImpression()}
	for _, c := range ocfCodecs {
		var buf bytes.Buffer
		w, err := alltypes.NewImpressionOCFWriter(&buf, codec.WithOCFCodec(c), codec.WithOCFBlockSize(300))
		if err != nil {
			f.Fatal(err)
		}
		for i := range recs {
			if err := w.Write(&recs[i]); err != nil {
				f.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := alltypes.NewImpressionOCFReader(bytes.NewReader(data), "fuzz.avro")
		if err != nil {
			return
		}
		for range 1000 {
			var v alltypes.Impression
			if err := r.Read(&v); err != nil {
				if err != io.EOF && !errors.Is(err, codec.ErrOCF) && !bytes.Contains([]byte(err.Error()), []byte("fuzz.avro")) {
					t.Fatalf("error without the file's name: %v", err)
				}
				return
			}
		}
	})
}

// TestOCFHeaderRoundTrips: what the writer puts in the header (metadata
// keys, codec, the writer's schema) is what the reader and hamba read
// back.
func TestOCFHeaderRoundTrips(t *testing.T) {
	recs := ocfImpressions(t, 3)
	data := writeOCF(t, recs, codec.WithOCFCodec(codec.OCFDeflate), codec.WithOCFMetadata("streamgen.batch", []byte("42")))
	r, err := alltypes.NewImpressionOCFReader(bytes.NewReader(data), "test.avro")
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := r.Metadata("streamgen.batch"); !ok || string(got) != "42" {
		t.Errorf("Metadata(streamgen.batch) = %q, %v; want 42", got, ok)
	}
	if _, ok := r.Metadata("absent"); ok {
		t.Error("Metadata reports a key the writer did not set")
	}
	if r.Codec() != codec.OCFDeflate {
		t.Errorf("Codec() = %q, want deflate", r.Codec())
	}
	if !strings.Contains(r.WriterSchema(), `"com.example.ads.Impression"`) {
		t.Errorf("WriterSchema() = %.80s…, want the Impression's schema", r.WriterSchema())
	}
	dec, err := ocf.NewDecoder(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(dec.Metadata()["streamgen.batch"]); got != "42" {
		t.Errorf("hamba reads streamgen.batch %q, want 42", got)
	}
}

// TestOCFWriteAvro: values appended as their Avro binary (WriteAvro, the
// rolling blob sink's path) make the very file Write makes of them.
func TestOCFWriteAvro(t *testing.T) {
	recs := ocfImpressions(t, 50)
	marker := codec.WithOCFSyncMarker([16]byte{1, 2, 3})
	want := writeOCF(t, recs, marker, codec.WithOCFBlockSize(512))
	var buf bytes.Buffer
	w, err := alltypes.NewImpressionOCFWriter(&buf, marker, codec.WithOCFBlockSize(512))
	if err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		b, err := recs[i].AppendAvro(nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteAvro(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Error("the file of WriteAvro differs from Write's")
	}
}
