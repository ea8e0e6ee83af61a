package sink

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	hocf "github.com/hamba/avro/v2/ocf"
	"github.com/linkedin/goavro/v2"

	"github.com/streamgen/streamgen/generated_test/cases/alltypes/alltypes"
	"github.com/streamgen/streamgen/runtime"
)

type (
	impressionType = alltypes.Impression
	impressions    = Files[alltypes.Impression, *alltypes.Impression]
)

// impression is a full Impression whose CampaignID is seq, so a file's
// values say which offsets they came from.
func impression(seq int64) alltypes.Impression {
	ua := "Mozilla/5.0"
	floor := float32(0.35)
	return alltypes.Impression{
		ImpressionID: fmt.Sprintf("3f2c8a9e-5b1d-4e7f-9a6c-%012d", seq),
		CampaignID:   seq,
		CreativeID:   902_114,
		PublisherID:  "pub-example-com",
		Timestamp:    time.Date(2026, 3, 14, 15, 9, 26, 535_000_000, time.UTC),
		Device:       alltypes.DeviceTypePhone,
		Geo:          alltypes.GeoPoint{Lat: 48.8566, Lon: 2.3522, Country: "FR"},
		UserAgent:    &ua,
		BidPrice:     big.NewRat(1_254_300, 1_000_000),
		FloorPrice:   &floor,
		Viewable:     true,
		Segments:     []string{"auto-intenders", "sports-fans"},
		Labels:       map[string]string{"placement": "above-the-fold"},
		LatencyMs:    37,
	}
}

func newFiles(t *testing.T, dir string, opts ...FilesOpt) *impressions {
	t.Helper()
	f, err := NewFiles[alltypes.Impression](dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func rng(topic string, p int32, from, until int64) runtime.OffsetRange {
	return runtime.OffsetRange{Topic: topic, Partition: p, FromOffset: from, UntilOffset: until}
}

// publish runs one batch through f as the engine does: Begin, a writer
// per non-empty range writing one Impression per offset, Store (or Abort
// when it fails).
func publish(f *impressions, id int64, ranges ...runtime.OffsetRange) error {
	ctx := context.Background()
	b := runtime.StoredBatch{ID: id, Time: time.Now(), Ranges: ranges}
	if err := f.Begin(ctx, b); err != nil {
		return err
	}
	for _, r := range ranges {
		if r.Count() == 0 {
			continue
		}
		w := f.Writer(r)
		for o := r.FromOffset; o < r.UntilOffset; o++ {
			v := impression(o)
			if err := w.Write(&v); err != nil {
				f.Abort(ctx, b)
				return err
			}
		}
	}
	if err := f.Store(ctx, b); err != nil {
		f.Abort(ctx, b)
		return err
	}
	return nil
}

// readHamba reads a published file with hamba's OCF decoder and returns
// the campaign ids (offsets) of its values.
func readHamba(t *testing.T, path string) []int64 {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	dec, err := hocf.NewDecoder(fh)
	if err != nil {
		t.Fatalf("hamba cannot read %s: %v", path, err)
	}
	var out []int64
	for dec.HasNext() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("hamba decoding %s: %v", path, err)
		}
		out = append(out, m["campaign_id"].(int64))
	}
	if err := dec.Error(); err != nil {
		t.Fatalf("hamba reading %s: %v", path, err)
	}
	return out
}

// readGoavro reads a published file with linkedin/goavro's OCF reader;
// block is the largest block's count of values.
func readGoavro(t *testing.T, path string) (ids []int64, codec string, block int64) {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	r, err := goavro.NewOCFReader(fh)
	if err != nil {
		t.Fatalf("goavro cannot read %s: %v", path, err)
	}
	for r.Scan() {
		block = max(block, r.RemainingBlockItems())
		v, err := r.Read()
		if err != nil {
			t.Fatalf("goavro decoding %s: %v", path, err)
		}
		m := v.(map[string]any)
		ids = append(ids, m["campaign_id"].(int64))
		if m["publisher_id"] != "pub-example-com" {
			t.Errorf("goavro read publisher_id %v from %s", m["publisher_id"], path)
		}
	}
	if err := r.Err(); err != nil {
		t.Fatalf("goavro reading %s: %v", path, err)
	}
	return ids, r.CompressionName(), block
}

func seq(from, until int64) []int64 {
	var out []int64
	for o := from; o < until; o++ {
		out = append(out, o)
	}
	return out
}

// TestFilesReadByStandardReaders: for every codec, the published files
// are Avro object container files that hamba's and goavro's readers both
// read, with every value in offset order, an empty container for a range
// the handler wrote nothing to.
func TestFilesReadByStandardReaders(t *testing.T) {
	for _, c := range []Codec{CodecNull, CodecDeflate, CodecSnappy} {
		t.Run(string(c), func(t *testing.T) {
			dir := t.TempDir()
			f := newFiles(t, dir, OCFCodec(c), OCFBlockLength(7))
			ctx := context.Background()
			r0, r1 := rng("imps", 0, 0, 50), rng("imps", 1, 3, 5)
			b := runtime.StoredBatch{ID: 1, Ranges: []runtime.OffsetRange{r0, r1}}
			if err := f.Begin(ctx, b); err != nil {
				t.Fatal(err)
			}
			w := f.Writer(r0)
			for o := range int64(50) {
				v := impression(o)
				if err := w.Write(&v); err != nil {
					t.Fatal(err)
				}
			}
			if err := f.Store(ctx, b); err != nil {
				t.Fatal(err)
			}
			full := filepath.Join(dir, "topic=imps", "partition=0", "00000000000000000000-00000000000000000050.avro")
			empty := filepath.Join(dir, "topic=imps", "partition=1", "00000000000000000003-00000000000000000005.avro")
			if got := readHamba(t, full); !slices.Equal(got, seq(0, 50)) {
				t.Errorf("hamba read %v, want 0..49", got)
			}
			got, name, block := readGoavro(t, full)
			if !slices.Equal(got, seq(0, 50)) {
				t.Errorf("goavro read %v, want 0..49", got)
			}
			if block != 7 {
				t.Errorf("the largest block holds %d values, want the block length 7", block)
			}
			if name != string(c) {
				t.Errorf("goavro says the codec is %q, want %q", name, c)
			}
			if got := readHamba(t, empty); len(got) != 0 {
				t.Errorf("hamba read %v from the empty range's file, want nothing", got)
			}
			if got, _, _ := readGoavro(t, empty); len(got) != 0 {
				t.Errorf("goavro read %v from the empty range's file, want nothing", got)
			}
		})
	}
}

// TestFilesSchemaAndMetadata: a file's schema is T's own schema JSON, and
// its header says where its values come from.
func TestFilesSchemaAndMetadata(t *testing.T) {
	dir := t.TempDir()
	f := newFiles(t, dir)
	if err := publish(f, 1, rng("imps", 2, 10, 12)); err != nil {
		t.Fatal(err)
	}
	fh, err := os.Open(filepath.Join(dir, "topic=imps", "partition=2", "00000000000000000010-00000000000000000012.avro"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	dec, err := hocf.NewDecoder(fh)
	if err != nil {
		t.Fatal(err)
	}
	meta := dec.Metadata()
	if string(meta["avro.schema"]) != alltypes.ImpressionSchema {
		t.Errorf("the file's schema is not ImpressionSchema:\n%s", meta["avro.schema"])
	}
	if string(meta["avro.codec"]) != "snappy" {
		t.Errorf("codec %q, want the default snappy", meta["avro.codec"])
	}
	for k, want := range map[string]string{"streamgen.topic": "imps", "streamgen.partition": "2", "streamgen.from_offset": "10", "streamgen.until_offset": "12"} {
		if string(meta[k]) != want {
			t.Errorf("metadata %s = %q, want %q", k, meta[k], want)
		}
	}
}

// TestFilesLayout: files list in Hive-partition style with 20-digit
// offsets, only non-empty ranges get one, and nothing but published files
// and _streamgen is left in DIR between batches and after Close.
func TestFilesLayout(t *testing.T) {
	dir := t.TempDir()
	f := newFiles(t, dir)
	if err := publish(f, 1, rng("imps", 0, 0, 3), rng("imps", 1, 7, 7), rng("clicks", 11, 123456789012, 123456789015)); err != nil {
		t.Fatal(err)
	}
	if err := publish(f, 2, rng("imps", 0, 3, 4), rng("imps", 1, 7, 9)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"topic=clicks/partition=11/00000000123456789012-00000000123456789015.avro",
		"topic=imps/partition=0/00000000000000000000-00000000000000000003.avro",
		"topic=imps/partition=0/00000000000000000003-00000000000000000004.avro",
		"topic=imps/partition=1/00000000000000000007-00000000000000000009.avro",
	}
	if got := tree(t, dir); !slices.Equal(got, want) {
		t.Errorf("DIR holds\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if leftovers := tempFiles(t, dir); len(leftovers) > 0 {
		t.Errorf("temporary files left after Close: %v", leftovers)
	}
}

// tree lists the regular files under dir outside _streamgen.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == internalDir {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// tempFiles lists the files under DIR/_streamgen/tmp.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(filepath.Join(dir, internalDir, "tmp"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// TestFilesAbortPublishesNothing: an aborted batch leaves no file, no
// temporary file, and the partition's offset where it was.
func TestFilesAbortPublishesNothing(t *testing.T) {
	dir := t.TempDir()
	f := newFiles(t, dir)
	ctx := context.Background()
	r := rng("imps", 0, 0, 5)
	b := runtime.StoredBatch{ID: 1, Ranges: []runtime.OffsetRange{r}}
	if err := f.Begin(ctx, b); err != nil {
		t.Fatal(err)
	}
	v := impression(0)
	if err := f.Writer(r).Write(&v); err != nil {
		t.Fatal(err)
	}
	if len(tempFiles(t, dir)) != 1 {
		t.Fatalf("want one temporary file while the batch runs, have %v", tempFiles(t, dir))
	}
	f.Abort(ctx, b)
	if got := tree(t, dir); len(got) != 0 {
		t.Errorf("an aborted batch published %v", got)
	}
	if got := tempFiles(t, dir); len(got) != 0 {
		t.Errorf("an aborted batch left %v", got)
	}
	if offs, err := f.Load(ctx, []runtime.TopicPartition{{Topic: "imps"}}); err != nil || len(offs) != 0 {
		t.Errorf("Load = %v, %v; want no offset", offs, err)
	}
}

// TestFilesRetriedTaskStartsOver: a second Writer call for a partition
// (a retried task) replaces what the first wrote, and the first writer
// can no longer write.
func TestFilesRetriedTaskStartsOver(t *testing.T) {
	dir := t.TempDir()
	f := newFiles(t, dir)
	ctx := context.Background()
	r := rng("imps", 0, 0, 3)
	b := runtime.StoredBatch{ID: 1, Ranges: []runtime.OffsetRange{r}}
	if err := f.Begin(ctx, b); err != nil {
		t.Fatal(err)
	}
	first := f.Writer(r)
	for o := range int64(2) {
		v := impression(o)
		if err := first.Write(&v); err != nil {
			t.Fatal(err)
		}
	}
	second := f.Writer(r)
	v := impression(99)
	if err := first.Write(&v); !errors.Is(err, errSuperseded) {
		t.Errorf("the failed attempt's writer wrote (%v), want errSuperseded", err)
	}
	for o := range int64(3) {
		v := impression(o)
		if err := second.Write(&v); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Store(ctx, b); err != nil {
		t.Fatal(err)
	}
	got := readHamba(t, filepath.Join(partitionDir(dir, r.TopicPartition()), fileName(r)))
	if !slices.Equal(got, seq(0, 3)) {
		t.Errorf("the file holds %v, want the retry's 0..2 once", got)
	}
}

// TestFilesWriterOutsideTheBatch: a writer for a range the batch does not
// hold fails, naming the range.
func TestFilesWriterOutsideTheBatch(t *testing.T) {
	f := newFiles(t, t.TempDir())
	ctx := context.Background()
	if err := f.Begin(ctx, runtime.StoredBatch{ID: 1, Ranges: []runtime.OffsetRange{rng("imps", 0, 0, 3)}}); err != nil {
		t.Fatal(err)
	}
	v := impression(0)
	for _, r := range []runtime.OffsetRange{rng("imps", 0, 3, 6), rng("imps", 1, 0, 3)} {
		err := f.Writer(r).Write(&v)
		if err == nil || !strings.Contains(err.Error(), r.String()) {
			t.Errorf("writing %v: %v, want an error naming the range", r, err)
		}
	}
}

// TestFilesWriterKeptPastItsBatch: a writer used after its batch was
// stored fails and leaves no temporary file behind.
func TestFilesWriterKeptPastItsBatch(t *testing.T) {
	dir := t.TempDir()
	f := newFiles(t, dir)
	ctx := context.Background()
	r := rng("imps", 0, 0, 3)
	b := runtime.StoredBatch{ID: 1, Ranges: []runtime.OffsetRange{r}}
	if err := f.Begin(ctx, b); err != nil {
		t.Fatal(err)
	}
	w := f.Writer(r)
	if err := f.Store(ctx, b); err != nil {
		t.Fatal(err)
	}
	v := impression(0)
	if err := w.Write(&v); err == nil || !strings.Contains(err.Error(), "its batch is over") {
		t.Errorf("Write after Store = %v, want an error saying the batch is over", err)
	}
	if left := tempFiles(t, dir); len(left) != 0 {
		t.Errorf("left %v", left)
	}
}

// TestFilesValueThatDoesNotEncode: a value the schema cannot hold fails
// its Write naming the range, and Store refuses the batch even when the
// handler went on.
func TestFilesValueThatDoesNotEncode(t *testing.T) {
	dir := t.TempDir()
	f := newFiles(t, dir)
	ctx := context.Background()
	r := rng("imps", 0, 0, 2)
	b := runtime.StoredBatch{ID: 1, Ranges: []runtime.OffsetRange{r}}
	if err := f.Begin(ctx, b); err != nil {
		t.Fatal(err)
	}
	w := f.Writer(r)
	bad := impression(0)
	bad.BidPrice = big.NewRat(1, 3) // no decimal(12,6) holds a third
	if err := w.Write(&bad); err == nil || !strings.Contains(err.Error(), r.String()) {
		t.Errorf("Write = %v, want an encoding error naming %v", err, r)
	}
	good := impression(1)
	_ = w.Write(&good)
	if err := f.Store(ctx, b); err == nil {
		t.Error("Store published a batch with a value missing")
	}
	f.Abort(ctx, b)
	if got := tree(t, dir); len(got) != 0 {
		t.Errorf("published %v", got)
	}
}
