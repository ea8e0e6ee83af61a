package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"

	"github.com/streamgen/streamgen/generated_test/cases/alltypes/alltypes"
	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/codec"
)

// hiveImpression is impression(o) at hour 5 (even o) or 6 (odd o) of
// 2026-03-14, in FR below offset 5 or from offset 10 on, else in DE.
func hiveImpression(o int64) alltypes.Impression {
	v := impression(o)
	v.Timestamp = time.Date(2026, 3, 14, 5+int(o%2), 30, 0, 0, time.UTC)
	if o >= 5 && o < 10 {
		v.Geo.Country = "DE"
	}
	return v
}

// readObjects reads every published Avro object: key to its values.
func readObjects(t *testing.T, b *blob.Bucket) map[string][]alltypes.Impression {
	t.Helper()
	ctx := context.Background()
	out := map[string][]alltypes.Impression{}
	it := b.List(nil)
	for {
		o, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(o.Key, internalDir+"/") {
			continue
		}
		data, err := b.ReadAll(ctx, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		rd, err := codec.NewOCFReader[alltypes.Impression](bytes.NewReader(data), o.Key)
		if err != nil {
			t.Fatal(err)
		}
		vs := []alltypes.Impression{}
		for {
			var v alltypes.Impression
			if err := rd.Read(&v); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatal(err)
			}
			vs = append(vs, v)
		}
		out[o.Key] = vs
	}
}

// TestBlobHivePartitions: partitioned by the hour of the impression's
// timestamp and by its country, a batch's range is split across buckets,
// each object named by the offsets of the records it holds and holding
// only its bucket's; within a bucket no two objects' ranges overlap;
// every offset is published once; a range the handler wrote nothing for
// publishes no object yet is stored; Load finds the partition's end
// through the claims, also after an instance died between its claim and
// the copies of its objects.
func TestBlobHivePartitions(t *testing.T) {
	ctx := context.Background()
	bk := memblob.OpenBucket(nil)
	defer bk.Close()
	open := func() *blobImpressions {
		s, err := NewBlob[alltypes.Impression](bk, PartitionByTime("timestamp", Hour), PartitionByField("geo.country"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	tp := runtime.TopicPartition{Topic: "imps", Partition: 0}
	write := func(s *blobImpressions, r runtime.OffsetRange) runtime.StoredBatch {
		b := runtime.StoredBatch{Ranges: []runtime.OffsetRange{r}}
		if err := s.Begin(ctx, b); err != nil {
			t.Fatal(err)
		}
		w := s.Writer(r)
		for o := r.FromOffset; o < r.UntilOffset; o++ {
			v := hiveImpression(o)
			if err := w.WriteAt(o, &v); err != nil {
				t.Fatal(err)
			}
		}
		return b
	}
	s := open()
	loadBlob(t, s, tp)
	if err := s.Store(ctx, write(s, rng("imps", 0, 0, 10))); err != nil {
		t.Fatal(err)
	}
	// The next batch's instance dies between its claim and its copies.
	objs := s.core.objects
	s.core.objects = failPublish{objs}
	if err := s.Store(ctx, write(s, rng("imps", 0, 10, 14))); err == nil {
		t.Fatal("Store succeeded with its copies failing")
	}
	s2 := open()
	if got := loadBlob(t, s2, tp); got[tp] != 14 {
		t.Fatalf("Load after the kill = %v, want 14", got)
	}
	empty := runtime.StoredBatch{Ranges: []runtime.OffsetRange{rng("imps", 0, 14, 16)}}
	if err := s2.Begin(ctx, empty); err != nil {
		t.Fatal(err)
	}
	if err := s2.Store(ctx, empty); err != nil {
		t.Fatal(err)
	}
	if got := loadBlob(t, open(), tp); got[tp] != 16 {
		t.Errorf("Load after a batch with no values = %v, want 16", got)
	}

	got := readObjects(t, bk)
	want := map[string][]int64{
		"topic=imps/dt=2026-03-14/hour=05/country=FR/partition=0/00000000000000000000-00000000000000000005.avro": {0, 2, 4},
		"topic=imps/dt=2026-03-14/hour=06/country=FR/partition=0/00000000000000000001-00000000000000000004.avro": {1, 3},
		"topic=imps/dt=2026-03-14/hour=05/country=DE/partition=0/00000000000000000006-00000000000000000009.avro": {6, 8},
		"topic=imps/dt=2026-03-14/hour=06/country=DE/partition=0/00000000000000000005-00000000000000000010.avro": {5, 7, 9},
		"topic=imps/dt=2026-03-14/hour=05/country=FR/partition=0/00000000000000000010-00000000000000000013.avro": {10, 12},
		"topic=imps/dt=2026-03-14/hour=06/country=FR/partition=0/00000000000000000011-00000000000000000014.avro": {11, 13},
	}
	if !slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want))) {
		t.Errorf("published %v,\nwant %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}
	seen := map[int64]int{}
	for key, vs := range got {
		var ids []int64
		for _, v := range vs {
			ids = append(ids, v.CampaignID)
			seen[v.CampaignID]++
			wantDir := fmt.Sprintf("dt=2026-03-14/hour=%02d/country=%s/", v.Timestamp.Hour(), v.Geo.Country)
			if !strings.Contains(key, wantDir) {
				t.Errorf("%s holds offset %d of bucket %s", key, v.CampaignID, wantDir)
			}
		}
		if w, ok := want[key]; ok && !slices.Equal(ids, w) {
			t.Errorf("%s holds %v, want %v", key, ids, w)
		}
	}
	for o := int64(0); o < 14; o++ {
		if seen[o] != 1 {
			t.Errorf("offset %d is in %d objects, want 1", o, seen[o])
		}
	}
	if st := stagedObjects(t, bk); len(st) != 0 {
		t.Errorf("staged objects left: %v", st)
	}
}

// TestBlobPartitionValues: the bucket of values a query cannot put in a
// directory name as they are: null goes to Hive's default partition,
// path characters are escaped, days come from dates and timestamps, and
// a Write without an offset names the object by the batch's range.
func TestBlobPartitionValues(t *testing.T) {
	ctx := context.Background()
	bk := memblob.OpenBucket(nil)
	defer bk.Close()
	s, err := NewBlob[alltypes.Impression](bk, PartitionByField("user_agent"), PartitionByTime("timestamp", Day))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := rng("imps", 2, 100, 103)
	b := runtime.StoredBatch{Ranges: []runtime.OffsetRange{r}}
	if err := s.Begin(ctx, b); err != nil {
		t.Fatal(err)
	}
	w := s.Writer(r)
	slash := "a/b=c"
	for i, ua := range []*string{nil, &slash} {
		v := impression(int64(100 + i))
		v.UserAgent = ua
		if err := w.Write(&v); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Store(ctx, b); err != nil {
		t.Fatal(err)
	}
	got := slices.Sorted(maps.Keys(readObjects(t, bk)))
	want := []string{
		"topic=imps/user_agent=__HIVE_DEFAULT_PARTITION__/dt=2026-03-14/partition=2/00000000000000000100-00000000000000000103.avro",
		"topic=imps/user_agent=a%2Fb%3Dc/dt=2026-03-14/partition=2/00000000000000000100-00000000000000000103.avro",
	}
	if !slices.Equal(got, want) {
		t.Errorf("published %v, want %v", got, want)
	}

	for _, tc := range []struct {
		opt  BlobOpt
		want string
	}{
		{PartitionByField("nope"), "has no field nope"},
		{PartitionByField("geo"), "a record field"},
		{PartitionByTime("publisher_id", Hour), "want a timestamp"},
		{PartitionByTime("timestamp", "minute"), "granularity"},
	} {
		if _, err := NewBlob[alltypes.Impression](bk, tc.opt); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewBlob = %v, want an error saying %q", err, tc.want)
		}
	}
}

// TestBlobSettings: the spec's sink.format, sink.partitionBy and
// sink.roll limits become the sink's options (no rolling when every
// limit is 0), and a wrong one fails naming it.
func TestBlobSettings(t *testing.T) {
	roll := RollLimits{MaxRecords: 10, MaxOpen: time.Minute, MaxOpenFiles: 3}
	opts, err := BlobSettings("parquet", []string{"timestamp:hour", " geo.country"}, roll)
	if err != nil {
		t.Fatal(err)
	}
	var cfg blobCfg
	for _, o := range opts {
		o(&cfg)
	}
	want := []partLevel{{field: "timestamp", gran: Hour}, {field: "geo.country"}}
	if cfg.format != FormatParquet || !slices.Equal(cfg.partitions, want) || cfg.roll == nil || *cfg.roll != roll {
		t.Errorf("options give format %q, levels %v, rolling %v; want parquet, %v and %+v", cfg.format, cfg.partitions, cfg.roll, want, roll)
	}
	opts, err = BlobSettings("", nil, RollLimits{})
	if err != nil {
		t.Fatal(err)
	}
	cfg = blobCfg{}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.roll != nil {
		t.Errorf("every limit 0 gives rolling %+v, want a file per batch", *cfg.roll)
	}
	for _, bad := range []struct {
		format string
		by     []string
		want   string
	}{{"orc", nil, `"orc"`}, {"", []string{"timestamp:minute"}, `"minute"`}, {"avro", []string{":day"}, "names no field"}} {
		if _, err := BlobSettings(bad.format, bad.by, RollLimits{}); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("BlobSettings(%q, %q) = %v, want an error saying %s", bad.format, bad.by, err, bad.want)
		}
	}
}

// TestBlobPartitionByLogicalTypes: a uuid partitions as its string, a
// date by day, local timestamps and micros by their UTC fields, a null
// optional timestamp into Hive's default partition; a date by hour, a
// time of day and a decimal are refused naming the field.
func TestBlobPartitionByLogicalTypes(t *testing.T) {
	ctx := context.Background()
	ts := time.Date(2026, 12, 5, 6, 7, 8, 9_000_000, time.UTC)
	row := func(uuid string, optTs *time.Time) alltypes.AllTypes {
		return alltypes.AllTypes{E: alltypes.SuitSpades, U: alltypes.AllTypesULong{Value: 1}, DecBytes: new(big.Rat), DecFixed: new(big.Rat),
			UUID: uuid, TsMs: ts, TsUs: ts.Add(time.Hour), LtsMs: ts, LtsUs: ts.Add(2 * time.Hour),
			Date: time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC), OptTs: optTs}
	}
	rows := []alltypes.AllTypes{row("3f2c8a9e-5b1d-4e7f-9a6c-000000000001", &ts), row("00000000-0000-0000-0000-0000000000ff", nil)}
	for _, tc := range []struct {
		opt  BlobOpt
		want []string // the buckets of the two rows
	}{
		{PartitionByField("uuid"), []string{"uuid=00000000-0000-0000-0000-0000000000ff/", "uuid=3f2c8a9e-5b1d-4e7f-9a6c-000000000001/"}},
		{PartitionByTime("date", Day), []string{"dt=2026-12-04/"}},
		{PartitionByTime("ts_us", Hour), []string{"dt=2026-12-05/hour=07/"}},
		{PartitionByTime("lts_ms", Day), []string{"dt=2026-12-05/"}},
		{PartitionByTime("lts_us", Hour), []string{"dt=2026-12-05/hour=08/"}},
		{PartitionByTime("opt_ts", Hour), []string{"dt=2026-12-05/hour=06/", "dt=__HIVE_DEFAULT_PARTITION__/hour=__HIVE_DEFAULT_PARTITION__/"}},
	} {
		bk := memblob.OpenBucket(nil)
		s, err := NewBlob[alltypes.AllTypes](bk, tc.opt)
		if err != nil {
			t.Fatal(err)
		}
		r := rng("all", 0, 0, 2)
		b := runtime.StoredBatch{Ranges: []runtime.OffsetRange{r}}
		if err := s.Begin(ctx, b); err != nil {
			t.Fatal(err)
		}
		w := s.Writer(r)
		for i := range rows {
			if err := w.WriteAt(int64(i), &rows[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Store(ctx, b); err != nil {
			t.Fatal(err)
		}
		var got []string
		for it := bk.List(nil); ; {
			o, err := it.Next(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(o.Key, internalDir) {
				continue
			}
			dir := strings.TrimPrefix(o.Key[:strings.Index(o.Key, "partition=")], "topic=all/")
			if !slices.Contains(got, dir) {
				got = append(got, dir)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("buckets %v, want %v", got, tc.want)
		}
		s.Close()
		bk.Close()
	}
	for _, tc := range []struct {
		opt  BlobOpt
		want string
	}{
		{PartitionByTime("date", Hour), "partitioning by date at hour: a int field; want a timestamp-millis or -micros long (or a date, by day)"},
		{PartitionByTime("t_ms", Day), "partitioning by t_ms at day"},
		{PartitionByField("dec_bytes"), "partitioning by dec_bytes: a bytes field"},
	} {
		if _, err := NewBlob[alltypes.AllTypes](memblob.OpenBucket(nil), tc.opt); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewBlob = %v, want an error saying %q", err, tc.want)
		}
	}
}
