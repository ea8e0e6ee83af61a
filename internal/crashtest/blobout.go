package crashtest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // file:// buckets

	"github.com/streamgen/streamgen/internal/crashtest/job/seqjob"
	"github.com/streamgen/streamgen/runtime/codec"
	_ "github.com/streamgen/streamgen/runtime/sink/cloud" // s3:// (gs://, azblob://) rows
)

// blobPartitionBy is the blob rows' Hive partitioning: by the hour of the
// records' ts, which the producer spreads over four hours (recordTime).
const blobPartitionBy = "ts:hour"

// blobInternal is where the blob sink keeps its own state (claims, staged
// objects): everything else under its URL is published.
const blobInternal = "_streamgen/"

// blobOutput is the blob sink's bucket as the driver reads it: every
// published object (every object outside _streamgen/), read back whole
// with the format's reader (codec.OCFReader, parquet-go). It depends on
// the warehouse layout only, topic=T/[K=V/...]partition=P/NAME, not on
// how many objects a batch makes: which offset a record is at comes from
// its sequence number (where the producer's write of it landed), not
// from its place in its object.
type blobOutput struct {
	url    string // as the job opens it
	format string // avro or parquet
	bucket *blob.Bucket
	// objects caches what each published object holds, by key; an object
	// listed with another size or time is read again.
	objects map[string]*blobObject
}

// blobObject is one published object and the records it holds.
type blobObject struct {
	size int64
	mod  time.Time
	seqs []int64
	ts   []time.Time
	err  error // it did not read; read again next time
}

// blobRunURL is the bucket URL of a run of cfg: a directory of the run's
// for an empty BlobURL, else BlobURL with a prefix of its own (gocloud's
// prefix parameter), so that runs sharing a bucket never see each
// other's claims.
func blobRunURL(env Env, cfg Configuration) (string, error) {
	if cfg.BlobURL == "" {
		dir := env.Dir + "/warehouse"
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		return (&url.URL{Scheme: "file", Path: dir}).String(), nil
	}
	u, err := url.Parse(cfg.BlobURL)
	if err != nil {
		return "", fmt.Errorf("configuration %s: BlobURL: %w", cfg.Name, err)
	}
	q := u.Query()
	q.Set("prefix", q.Get("prefix")+path.Base(env.Dir)+"-"+strconv.FormatInt(time.Now().UnixNano(), 36)+"/")
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func openBlobOutput(ctx context.Context, env Env, cfg Configuration) (*sinkOutput, error) {
	u, err := blobRunURL(env, cfg)
	if err != nil {
		return nil, err
	}
	format := cfg.BlobFormat
	if format == "" {
		format = "parquet"
	}
	b, err := blob.OpenBucket(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("configuration %s: opening the blob sink's bucket: %w", cfg.Name, err)
	}
	return &sinkOutput{kind: "blob", blob: &blobOutput{url: u, format: format, bucket: b, objects: make(map[string]*blobObject)}}, nil
}

// fromBlob counts every record of every published object, checking as it
// goes that each is where the layout says: in its partition's directory,
// in the Hive partition of its ts, inside its object's FROM-UNTIL when
// the name is one, and that no two objects of a directory overlap. While
// jobs run, an object that does not read yet, or a record whose write the
// producer has not seen acknowledged yet, is left for the next count; the
// final count (every job stopped) takes them as faults.
func (t *tally) fromBlob(ctx context.Context, o *sinkOutput) error {
	where := o.where
	bo := o.blob
	src := &procFile{path: bo.url}
	var faults []error
	seen := make(map[string]bool)
	// Each directory's objects' offset spans, for the overlap check.
	type span struct {
		key      string
		from, to int64 // the smallest and largest offsets it holds
		named    bool  // from the name's FROM-UNTIL (UNTIL exclusive, so to = UNTIL-1)
	}
	spans := make(map[string][]span)
	published, err := bo.published(ctx, t.topic, o.final)
	if err != nil {
		return err
	}
	for _, obj := range published {
		seen[obj.Key] = true
		part, hive, name, err := blobLayout(t.topic, bo.format, obj.Key)
		if err != nil {
			faults = append(faults, err)
			continue
		}
		c := bo.objects[obj.Key]
		if c == nil || c.err != nil || c.size != obj.Size || !c.mod.Equal(obj.ModTime) {
			c = bo.read(ctx, obj)
			bo.objects[obj.Key] = c
		}
		if c.err != nil {
			faults = append(faults, c.err)
			continue
		}
		from, until, named := blobName(name)
		lo, hi := int64(-1), int64(-1)
		for i, seq := range c.seqs {
			at, ok := where(seq)
			if !ok {
				if o.final {
					faults = append(faults, fmt.Errorf("%s: record %d has sequence number %d, which no acknowledged write of topic %s holds", obj.Key, i, seq, t.topic))
				}
				continue
			}
			if at.part != part {
				faults = append(faults, fmt.Errorf("%s: sequence number %d is at topic %s partition %d offset %d, not in partition %d", obj.Key, seq, t.topic, at.part, at.off, part))
				continue
			}
			if want := hivePath(c.ts[i]); want != hive {
				faults = append(faults, fmt.Errorf("%s: topic %s partition %d offset %d (ts %s) is in %q, want %q", obj.Key, t.topic, part, at.off, c.ts[i].UTC().Format(time.RFC3339), hive, want))
			}
			if wantTs := recordTime(seq); !c.ts[i].Equal(wantTs) {
				faults = append(faults, fmt.Errorf("%s: topic %s partition %d offset %d has ts %s, produced %s", obj.Key, t.topic, part, at.off, c.ts[i].UTC(), wantTs))
			}
			if named && (at.off < from || at.off >= until) {
				faults = append(faults, fmt.Errorf("%s: topic %s partition %d offset %d is outside its name's range %d-%d", obj.Key, t.topic, part, at.off, from, until))
			}
			if lo < 0 || at.off < lo {
				lo = at.off
			}
			hi = max(hi, at.off)
			t.handled(src, part, at.off, seq)
		}
		dir := path.Dir(obj.Key)
		if named {
			spans[dir] = append(spans[dir], span{obj.Key, from, until - 1, true})
		} else if lo >= 0 {
			spans[dir] = append(spans[dir], span{obj.Key, lo, hi, false})
		}
	}
	for k := range bo.objects {
		if !seen[k] {
			// A published object never goes away (a reader may be
			// reading it).
			// A fault of its own count: the next counts do not see it.
			t.faults = append(t.faults, fmt.Errorf("%s: published, then gone", k))
			delete(bo.objects, k)
		}
	}
	for dir, ss := range spans {
		slices.SortFunc(ss, func(a, b span) int { return cmp.Compare(a.from, b.from) })
		for i := 1; i < len(ss); i++ {
			if ss[i].from <= ss[i-1].to {
				faults = append(faults, fmt.Errorf("%s: objects %s and %s overlap (offsets %d-%d and %d-%d)", dir, path.Base(ss[i-1].key), path.Base(ss[i].key), ss[i-1].from, ss[i-1].to, ss[i].from, ss[i].to))
			}
		}
	}
	if o.final {
		t.faults = append(t.faults, faults...)
	}
	return nil
}

// published lists the published objects: while jobs run, those under
// topic=TOPIC/ only, since a file:// bucket's listing walks the whole
// tree under the prefix's directory and fails on a file that went away
// under it, and the sink's own files (claims, staged objects) come and
// go all the time; in the final count, when nothing changes any more,
// every object outside _streamgen/.
func (bo *blobOutput) published(ctx context.Context, topic string, final bool) ([]*blob.ListObject, error) {
	prefix := "topic=" + topic + "/"
	if final {
		prefix = ""
	}
	var out []*blob.ListObject
	it := bo.bucket.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", bo.url, err)
		}
		if !strings.HasPrefix(obj.Key, blobInternal) {
			out = append(out, obj)
		}
	}
}

// read reads a published object whole.
func (bo *blobOutput) read(ctx context.Context, obj *blob.ListObject) *blobObject {
	c := &blobObject{size: obj.Size, mod: obj.ModTime}
	data, err := bo.bucket.ReadAll(ctx, obj.Key)
	if err != nil {
		c.err = fmt.Errorf("%s: reading it: %w", obj.Key, err)
		return c
	}
	switch bo.format {
	case "avro":
		c.err = readBlobAvro(c, obj.Key, data)
	default:
		c.err = readBlobParquet(c, obj.Key, data)
	}
	if c.err == nil && len(c.seqs) == 0 {
		c.err = fmt.Errorf("%s: published, but holds no record", obj.Key)
	}
	return c
}

func readBlobAvro(c *blobObject, key string, data []byte) error {
	r, err := codec.NewOCFReader[seqjob.Sequenced](bytes.NewReader(data), key)
	if err != nil {
		return err
	}
	for {
		var v seqjob.Sequenced
		if err := r.Read(&v); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		c.seqs, c.ts = append(c.seqs, v.Seq), append(c.ts, v.Ts)
	}
}

// blobParquetRow is the columns of a published Parquet object that the
// count reads: seq, and ts (a TIMESTAMP(MILLIS) column).
type blobParquetRow struct {
	Seq int64 `parquet:"seq"`
	Ts  int64 `parquet:"ts"`
}

func readBlobParquet(c *blobObject, key string, data []byte) error {
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	r := parquet.NewGenericReader[blobParquetRow](f)
	defer r.Close()
	rows := make([]blobParquetRow, 256)
	for {
		n, err := r.Read(rows)
		for _, row := range rows[:n] {
			c.seqs, c.ts = append(c.seqs, row.Seq), append(c.ts, time.UnixMilli(row.Ts).UTC())
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	}
	if int64(len(c.seqs)) != f.NumRows() {
		return fmt.Errorf("%s: read %d rows of %d", key, len(c.seqs), f.NumRows())
	}
	return nil
}

// blobLayout parses a published key, topic=T/[K=V/...]partition=P/NAME.EXT.
func blobLayout(topic, ext, key string) (part int32, hive, name string, err error) {
	parts := strings.Split(key, "/")
	bad := func(why string) error {
		return fmt.Errorf("%s: published outside the layout topic=%s/[K=V/...]partition=P/NAME.%s: %s", key, topic, ext, why)
	}
	if len(parts) < 3 || parts[0] != "topic="+topic {
		return 0, "", "", bad("not under topic=" + topic)
	}
	name = parts[len(parts)-1]
	if !strings.HasSuffix(name, "."+ext) || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
		return 0, "", "", bad("not a ." + ext + " object")
	}
	p, ok := strings.CutPrefix(parts[len(parts)-2], "partition=")
	n, perr := strconv.ParseInt(p, 10, 32)
	if !ok || perr != nil {
		return 0, "", "", bad("not in a partition=P directory")
	}
	levels := parts[1 : len(parts)-2]
	for _, l := range levels {
		if k, _, ok := strings.Cut(l, "="); !ok || k == "" {
			return 0, "", "", bad("level " + l + " is not K=V")
		}
	}
	return int32(n), strings.Join(levels, "/"), name, nil
}

// blobName parses NAME as FROM-UNTIL.EXT, the range the warehouse layout
// names objects by; named is false for another name.
func blobName(name string) (from, until int64, named bool) {
	base, _, _ := strings.Cut(name, ".")
	a, b, ok := strings.Cut(base, "-")
	f, err1 := strconv.ParseInt(a, 10, 64)
	u, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil || u <= f {
		return 0, 0, false
	}
	return f, u, true
}

// hivePath is the Hive partition of a record with event time ts, by
// blobPartitionBy: dt=YYYY-MM-DD/hour=HH, in UTC.
func hivePath(ts time.Time) string {
	return ts.UTC().Format("dt=2006-01-02/hour=15")
}

// blobLeftovers lists what the blob sink left staged once every job
// stopped: after a clean stop there must be nothing.
func (bo *blobOutput) leftovers(ctx context.Context) error {
	it := bo.bucket.List(&blob.ListOptions{Prefix: blobInternal + "staged/"})
	var left []string
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("listing %sstaged/: %w", blobInternal, err)
		}
		left = append(left, obj.Key)
	}
	if len(left) > 0 {
		return fmt.Errorf("%d staged objects left in the blob sink after the final stop: %s", len(left), strings.Join(left[:min(len(left), 10)], ", "))
	}
	return nil
}
