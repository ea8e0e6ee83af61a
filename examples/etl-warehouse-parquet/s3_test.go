package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/parquet-go/parquet-go"
	"gocloud.dev/blob"

	"github.com/streamgen/streamgen/internal/s3test"
)

// TestParquetWarehouseETLOnS3 runs the generated ETL job twice into an
// s3:// warehouse on a real S3 server (versitygw), then reads every
// object back through S3: every offset of every partition is in exactly
// one published object, whose name's range holds it, in the directory of
// its hour; nothing staged and no multipart upload is left.
func TestParquetWarehouseETLOnS3(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	b, err := blob.OpenBucket(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	runTwice(t, srv.URL(), func() int { return len(readBucket(t, b, false)) })

	got := readBucket(t, b, true)
	// Impression n went to partition n%3 at offset n/3 (one producer, in
	// order), of hour 6+n%2.
	seen := map[int]map[int64]int{}
	for n := range 450 {
		key, ok := got[fmt.Sprintf("imp-%04d", n)]
		if !ok {
			t.Errorf("imp-%04d is in no object", n)
			continue
		}
		p, offset := n%3, int64(n/3)
		var hour, part int
		var from, until int64
		if _, err := fmt.Sscanf(key, "topic=impressions/dt=2026-12-05/hour=%02d/partition=%d/%020d-%020d.parquet", &hour, &part, &from, &until); err != nil {
			t.Fatalf("published key %s: %v", key, err)
		}
		if hour != 6+n%2 || part != p || offset < from || offset >= until {
			t.Errorf("imp-%04d (partition %d offset %d, hour %02d) is in %s", n, p, offset, 6+n%2, key)
		}
		if seen[p] == nil {
			seen[p] = map[int64]int{}
		}
		seen[p][offset]++
	}
	if len(got) != 450 {
		t.Errorf("the warehouse holds %d impressions, want 450", len(got))
	}
	for p := range 3 {
		for o := range int64(150) {
			if seen[p][o] != 1 {
				t.Errorf("partition %d offset %d is in %d objects, want 1", p, o, seen[p][o])
			}
		}
	}
	it := b.List(&blob.ListOptions{Prefix: "_streamgen/staged/"})
	if o, err := it.Next(ctx); !errors.Is(err, io.EOF) {
		t.Errorf("staged objects left (%v, %v)", o, err)
	}
	ups, err := srv.Client().ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(srv.Bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if len(ups.Uploads) != 0 {
		t.Errorf("%d multipart uploads left in progress", len(ups.Uploads))
	}
}

// readBucket reads every published Parquet object of the bucket: each
// impression id and its object's key. With strict, an id in two objects
// fails the test; without, it is counted once (the job may be midway).
func readBucket(t *testing.T, b *blob.Bucket, strict bool) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	it := b.List(&blob.ListOptions{Prefix: "topic=impressions/"})
	for {
		o, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(o.Key, ".parquet") {
			t.Fatalf("published object %s is not a Parquet file", o.Key)
		}
		data, err := b.ReadAll(ctx, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := parquet.Read[struct {
			ImpressionID string `parquet:"impression_id"`
		}](bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("%s: %v", o.Key, err)
		}
		for _, r := range rows {
			if prev, dup := out[r.ImpressionID]; dup && strict {
				t.Fatalf("%s is in %s and in %s", r.ImpressionID, prev, o.Key)
			}
			out[r.ImpressionID] = o.Key
		}
	}
}
