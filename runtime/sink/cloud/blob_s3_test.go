package cloud_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/parquet-go/parquet-go"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/streamgen/streamgen/generated_test/cases/alltypes/alltypes"
	"github.com/streamgen/streamgen/internal/s3test"
	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/codec"
	"github.com/streamgen/streamgen/runtime/sink"
	_ "github.com/streamgen/streamgen/runtime/sink/cloud"
)

// The blob sink's exactly-once basics on real object stores rather than
// gocloud's in-memory driver: their conditional create, their copies and
// listings, and S3's multipart uploads. Most run on every backend (see
// backends_test.go): s3:// on versitygw (internal/s3test), gs:// on
// fake-gcs-server (internal/gcstest).

type impressions = sink.Blob[alltypes.Impression, *alltypes.Impression]

const topic = "imps"

func openBlob(t testing.TB, url string, opts ...sink.BlobOpt) *impressions {
	t.Helper()
	s, err := sink.OpenBlob[alltypes.Impression](context.Background(), url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// impression's CampaignID is its offset, so an object's values say which
// offsets they came from; its timestamp falls in hour 6 or 7 of the day
// by the offset's parity.
func impression(offset int64, pad string) alltypes.Impression {
	ua := "Mozilla/5.0" + pad
	return alltypes.Impression{
		ImpressionID: fmt.Sprintf("3f2c8a9e-5b1d-4e7f-9a6c-%012d", offset),
		CampaignID:   offset,
		PublisherID:  "pub-example-com",
		Timestamp:    time.Date(2026, 12, 5, 6+int(offset%2), 30, 0, 0, time.UTC),
		Device:       alltypes.DeviceTypePhone,
		UserAgent:    &ua,
		BidPrice:     big.NewRat(offset, 1000),
		Segments:     []string{"sports-fans"},
		Labels:       map[string]string{"placement": "top"},
	}
}

func rng(p int32, from, until int64) runtime.OffsetRange {
	return runtime.OffsetRange{Topic: topic, Partition: p, FromOffset: from, UntilOffset: until}
}

// write begins a batch of ranges and writes one impression per offset, as
// the generated handler does; pad lengthens each value.
func write(t testing.TB, s *impressions, id int64, pad string, ranges ...runtime.OffsetRange) runtime.StoredBatch {
	t.Helper()
	ctx := context.Background()
	b := runtime.StoredBatch{ID: id, Time: time.Now(), Ranges: ranges}
	if err := s.Begin(ctx, b); err != nil {
		t.Fatal(err)
	}
	for _, r := range ranges {
		w := s.Writer(r)
		for o := r.FromOffset; o < r.UntilOffset; o++ {
			v := impression(o, pad)
			if err := w.WriteAt(o, &v); err != nil {
				t.Fatal(err)
			}
		}
	}
	return b
}

// publish runs one batch through s as the engine does: Store, or Abort
// when Store fails.
func publish(t testing.TB, s *impressions, id int64, ranges ...runtime.OffsetRange) error {
	t.Helper()
	b := write(t, s, id, "", ranges...)
	if err := s.Store(context.Background(), b); err != nil {
		_ = s.Abort(context.Background(), b)
		return err
	}
	return nil
}

func load(t testing.TB, s *impressions, tps ...runtime.TopicPartition) map[runtime.TopicPartition]int64 {
	t.Helper()
	got, err := s.Load(context.Background(), tps)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func tp(p int32) runtime.TopicPartition { return runtime.TopicPartition{Topic: topic, Partition: p} }

// keys lists every object of the bucket whose key starts with prefix.
func keys(t testing.TB, b *blob.Bucket, prefix string) []string {
	t.Helper()
	var out []string
	it := b.List(&blob.ListOptions{Prefix: prefix})
	for {
		o, err := it.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, o.Key)
	}
}

// published lists the objects outside _streamgen/.
func published(t testing.TB, b *blob.Bucket) []string {
	t.Helper()
	var out []string
	for _, k := range keys(t, b, "") {
		if !strings.HasPrefix(k, "_streamgen/") {
			out = append(out, k)
		}
	}
	return out
}

// readAvro reads an Avro object's campaign ids (offsets).
func readAvro(t testing.TB, b *blob.Bucket, key string) []int64 {
	t.Helper()
	data, err := b.ReadAll(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := codec.NewOCFReader[alltypes.Impression](bytes.NewReader(data), key)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for {
		var v alltypes.Impression
		if err := rd.Read(&v); errors.Is(err, io.EOF) {
			return ids
		} else if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, v.CampaignID)
	}
}

func seq(from, until int64) []int64 {
	var out []int64
	for o := from; o < until; o++ {
		out = append(out, o)
	}
	return out
}

// checkEveryOffsetOnce reads every published Avro object back: each holds
// the offsets its name says, and together they hold every offset of each
// partition below want once.
func checkEveryOffsetOnce(t testing.TB, b *blob.Bucket, want map[int32]int64) {
	t.Helper()
	seen := map[int32]map[int64]int{}
	for _, key := range published(t, b) {
		var p int32
		var from, until int64
		if _, err := fmt.Sscanf(key, "topic="+topic+"/partition=%d/%020d-%020d.avro", &p, &from, &until); err != nil {
			t.Fatalf("published key %s: %v", key, err)
		}
		ids := readAvro(t, b, key)
		if !slices.Equal(ids, seq(from, until)) {
			t.Errorf("%s holds %v, want offsets %d to %d", key, ids, from, until)
		}
		if seen[p] == nil {
			seen[p] = map[int64]int{}
		}
		for _, id := range ids {
			seen[p][id]++
		}
	}
	for p, n := range want {
		for o := range n {
			if c := seen[p][o]; c != 1 {
				t.Errorf("partition %d offset %d is in %d objects, want 1", p, o, c)
			}
		}
		if len(seen[p]) != int(n) {
			t.Errorf("partition %d: %d offsets published, want %d", p, len(seen[p]), n)
		}
	}
}

// checkClean: nothing staged and, on S3, no multipart upload left in
// progress. (A GCS resumable upload abandoned is never an object, and
// the store forgets it after a week: there is nothing to clean.)
func checkClean(t testing.TB, srv objectStore, b *blob.Bucket) {
	t.Helper()
	if st := keys(t, b, "_streamgen/staged/"); len(st) != 0 {
		t.Errorf("staged objects left: %v", st)
	}
	if s3srv, ok := srv.(*s3test.Server); ok {
		if ups := multipartUploads(t, s3srv); len(ups) != 0 {
			t.Errorf("multipart uploads left in progress: %v", ups)
		}
	}
}

func multipartUploads(t testing.TB, srv *s3test.Server) []string {
	t.Helper()
	out, err := srv.Client().ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(srv.Bucket)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, aws.ToString(u.Key))
	}
	return keys
}

// TestS3ConditionalCreate: the server refuses a second create of a key
// with If-None-Match: * (412) and keeps the first one's content; the
// fencing of the blob sink's claims rests on exactly this.
func TestS3ConditionalCreate(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	cl := srv.Client()
	put := func(body string) error {
		_, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(srv.Bucket), Key: aws.String("claims/0"),
			Body: strings.NewReader(body), IfNoneMatch: aws.String("*")})
		return err
	}
	if err := put("first"); err != nil {
		t.Fatal(err)
	}
	err := put("second")
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "PreconditionFailed" {
		t.Fatalf("a second conditional create = %v, want PreconditionFailed (412)", err)
	}
	// As gocloud's s3 driver sends it, which the sink's claims use.
	b, err := blob.OpenBucket(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	checkIfNotExist(t, b)
}

// checkIfNotExist: b's conditional create (IfNotExist) of claims/0, which
// holds "first", fails with FailedPrecondition and leaves it as it was;
// of a new key it succeeds; of racing creates of one key exactly one
// wins, as two instances' claims of the same FROM must.
func checkIfNotExist(t *testing.T, b *blob.Bucket) {
	t.Helper()
	ctx := context.Background()
	err := b.WriteAll(ctx, "claims/0", []byte("third"), &blob.WriterOptions{IfNotExist: true})
	if gcerrors.Code(err) != gcerrors.FailedPrecondition {
		t.Fatalf("WriteAll IfNotExist over an existing key = %v, want FailedPrecondition", err)
	}
	if got, err := b.ReadAll(ctx, "claims/0"); err != nil || string(got) != "first" {
		t.Fatalf("the key holds %q (%v), want the first create's content", got, err)
	}
	if err := b.WriteAll(ctx, "claims/1", []byte("x"), &blob.WriterOptions{IfNotExist: true}); err != nil {
		t.Fatalf("a conditional create of a new key: %v", err)
	}

	const racers = 8
	errs := make(chan error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			errs <- b.WriteAll(ctx, "claims/2", []byte(strconv.Itoa(i)), &blob.WriterOptions{IfNotExist: true})
		})
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		switch {
		case err == nil:
			won++
		case gcerrors.Code(err) != gcerrors.FailedPrecondition:
			t.Errorf("a racing conditional create failed otherwise than by its condition: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d racing conditional creates of one key succeeded, want 1", won, racers)
	}
}

// TestBlobLayout: each partition's batch is one object at
// topic=T/partition=P/FROM-UNTIL.avro holding its offsets' values; the
// sink's own objects are all under _streamgen/; nothing staged and no
// multipart upload is left; a new instance's Load gives each partition's
// end.
func TestBlobLayout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ backend, srv objectStore) {
		s := openBlob(t, srv.URL())
		if got := load(t, s, tp(0), tp(1)); len(got) != 0 {
			t.Fatalf("Load of a fresh bucket = %v, want nothing", got)
		}
		if err := publish(t, s, 1, rng(0, 0, 5), rng(1, 0, 3)); err != nil {
			t.Fatal(err)
		}
		if err := publish(t, s, 2, rng(0, 5, 9), rng(1, 3, 3)); err != nil {
			t.Fatal(err)
		}
		want := []string{
			"topic=imps/partition=0/00000000000000000000-00000000000000000005.avro",
			"topic=imps/partition=0/00000000000000000005-00000000000000000009.avro",
			"topic=imps/partition=1/00000000000000000000-00000000000000000003.avro",
		}
		if got := published(t, s.Bucket()); !slices.Equal(got, want) {
			t.Errorf("published %v, want %v", got, want)
		}
		checkEveryOffsetOnce(t, s.Bucket(), map[int32]int64{0: 9, 1: 3})
		checkClean(t, srv, s.Bucket())
		if got := load(t, openBlob(t, srv.URL()), tp(0), tp(1)); got[tp(0)] != 9 || got[tp(1)] != 3 {
			t.Errorf("Load by a new instance = %v, want 9 and 3", got)
		}
	})
}

// TestBlobParquetHourly: Parquet objects with hourly Hive partitions: a
// batch of two hours' values is two objects, each in its hour's
// directory and named by the offsets it holds, readable by parquet-go.
func TestBlobParquetHourly(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ backend, srv objectStore) {
		s := openBlob(t, srv.URL(), sink.BlobFormat(sink.FormatParquet), sink.PartitionByTime("timestamp", sink.Hour))
		if err := publish(t, s, 1, rng(0, 0, 10)); err != nil {
			t.Fatal(err)
		}
		want := []string{
			"topic=imps/dt=2026-12-05/hour=06/partition=0/00000000000000000000-00000000000000000009.parquet",
			"topic=imps/dt=2026-12-05/hour=07/partition=0/00000000000000000001-00000000000000000010.parquet",
		}
		got := published(t, s.Bucket())
		if !slices.Equal(got, want) {
			t.Fatalf("published %v, want %v", got, want)
		}
		for i, key := range got {
			data, err := s.Bucket().ReadAll(context.Background(), key)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := parquet.Read[struct {
				CampaignID int64 `parquet:"campaign_id"`
			}](bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			var ids []int64
			for _, r := range rows {
				ids = append(ids, r.CampaignID)
			}
			if want := []int64{int64(i), int64(i) + 2, int64(i) + 4, int64(i) + 6, int64(i) + 8}; !slices.Equal(ids, want) {
				t.Errorf("%s holds offsets %v, want %v", key, ids, want)
			}
		}
		checkClean(t, srv, s.Bucket())
	})
}

// TestBlobRestartAfterCrash: one instance dies after claiming a batch
// but before copying its object to the published key; another dies with
// a batch staged but not claimed. The next instance's Load publishes the
// claimed batch and goes on from its end, redoes the unclaimed one, and
// in the end every offset is in exactly one object, with nothing staged
// and no multipart upload left.
func TestBlobRestartAfterCrash(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend, srv objectStore) {
		ctx := context.Background()
		first := openBlob(t, srv.URL())
		if err := publish(t, first, 1, rng(0, 0, 5), rng(1, 0, 3)); err != nil {
			t.Fatal(err)
		}

		// Dies between the claim and the copy of partition 0's [5, 9).
		noCopy := openBlob(t, srv.Refusing(t, be.isCopy))
		load(t, noCopy, tp(0))
		b := write(t, noCopy, 2, "", rng(0, 5, 9))
		if err := noCopy.Store(ctx, b); err == nil {
			t.Fatal("Store succeeded with every copy refused")
		}
		// Dies with partition 1's [3, 6) staged, its claim refused.
		noClaim := openBlob(t, srv.Refusing(t, be.isClaim))
		load(t, noClaim, tp(1))
		b = write(t, noClaim, 2, "", rng(1, 3, 6))
		if err := noClaim.Store(ctx, b); err == nil {
			t.Fatal("Store succeeded with every claim refused")
		}
		if st := keys(t, first.Bucket(), "_streamgen/staged/"); len(st) != 2 {
			t.Fatalf("staged after the two crashes: %v, want the two batches' objects", st)
		}

		next := openBlob(t, srv.URL())
		if got := load(t, next, tp(0), tp(1)); got[tp(0)] != 9 || got[tp(1)] != 3 {
			t.Fatalf("Load after the crashes = %v, want 9 (the claimed batch) and 3", got)
		}
		if ids := readAvro(t, next.Bucket(), "topic=imps/partition=0/00000000000000000005-00000000000000000009.avro"); !slices.Equal(ids, seq(5, 9)) {
			t.Errorf("the claimed batch's object holds %v after Load, want 5 to 9", ids)
		}
		if err := publish(t, next, 3, rng(0, 9, 12), rng(1, 3, 7)); err != nil {
			t.Fatal(err)
		}
		load(t, openBlob(t, srv.URL()), tp(0), tp(1)) // removes what the crashed instances staged
		checkEveryOffsetOnce(t, next.Bucket(), map[int32]int64{0: 12, 1: 7})
		checkClean(t, srv, next.Bucket())
	})
}

// TestBlobZombieFenced: two instances both believe they own a
// partition; the second to publish from the same offset is refused by
// the server's conditional create and fails with a *runtime.FencedError
// naming where the partition is, and nothing of its batch is published.
func TestBlobZombieFenced(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ backend, srv objectStore) {
		owner, zombie := openBlob(t, srv.URL()), openBlob(t, srv.URL())
		if err := publish(t, owner, 1, rng(0, 0, 4)); err != nil {
			t.Fatal(err)
		}
		if got := load(t, zombie, tp(0)); got[tp(0)] != 4 {
			t.Fatalf("the zombie's Load = %v, want 4", got)
		}
		if err := publish(t, owner, 2, rng(0, 4, 10)); err != nil {
			t.Fatal(err)
		}
		err := publish(t, zombie, 2, rng(0, 4, 8))
		var fe *runtime.FencedError
		if !errors.As(err, &fe) || !errors.Is(err, runtime.ErrFenced) || fe.Stored != 10 || fe.Range != rng(0, 4, 8) {
			t.Fatalf("the zombie's Store = %v, want a *FencedError at 10", err)
		}
		// A zombie that never loaded (it started before the owner) is
		// fenced by the chain's start.
		late := openBlob(t, srv.URL())
		if err := publish(t, late, 1, rng(0, 0, 3)); !errors.As(err, &fe) {
			t.Fatalf("a fresh instance's Store from 0 = %v, want a *FencedError", err)
		}
		checkEveryOffsetOnce(t, owner.Bucket(), map[int32]int64{0: 10})
		checkClean(t, srv, owner.Bucket())
	})
}

// bigCount values of bigPad are about 22 MiB: past the 16 MiB below
// which the AWS SDK's transfer manager (gocloud's s3 driver) sends an
// object in one PUT, whatever BlobUploadBufferSize says.
const bigCount = 20_000

// bigPad makes values large and incompressible, so that one partition's
// object spans several multipart parts.
func bigPad() string {
	b := make([]byte, 512)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// TestBlobS3AbortPublishesNothing: a batch whose object is being uploaded
// in parts (a multipart upload in progress on the server) is aborted:
// nothing is published or claimed, nothing staged is left, and the
// server has no multipart upload left in progress (the SDK's own abort
// of a cancelled upload is never sent: the sink aborts it).
func TestBlobS3AbortPublishesNothing(t *testing.T) {
	srv := s3test.Start(t)
	s := openBlob(t, srv.URL(), sink.BlobUploadBufferSize(5<<20), sink.BlobAvroCodec(codec.OCFNull))
	b := write(t, s, 1, bigPad(), rng(0, 0, bigCount))
	waitUpload(t, srv)
	if err := s.Abort(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if got := keys(t, s.Bucket(), ""); len(got) != 0 {
		t.Errorf("objects after Abort: %v, want none", got)
	}
	if ups := multipartUploads(t, srv); len(ups) != 0 {
		t.Errorf("multipart uploads left in progress after Abort: %v", ups)
	}
	if got := load(t, openBlob(t, srv.URL()), tp(0)); len(got) != 0 {
		t.Errorf("Load after an aborted batch = %v, want nothing", got)
	}
}

// waitUpload waits until the server has a multipart upload in progress,
// of a key other than those of ignore.
func waitUpload(t testing.TB, srv *s3test.Server, ignore ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !slices.ContainsFunc(multipartUploads(t, srv), func(k string) bool { return !slices.Contains(ignore, k) }) {
		if time.Now().After(deadline) {
			t.Fatal("no multipart upload in progress after 22 MiB written; the test does not test what it says")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestBlobS3RetryAbortsUpload: a partition's task retried
// (DiscardPartition, then a new Writer) mid-upload leaves no multipart
// upload of its first attempt, and the batch publishes the second's.
func TestBlobS3RetryAbortsUpload(t *testing.T) {
	srv := s3test.Start(t)
	s := openBlob(t, srv.URL(), sink.BlobUploadBufferSize(5<<20), sink.BlobAvroCodec(codec.OCFNull))
	b := write(t, s, 1, bigPad(), rng(0, 0, bigCount))
	waitUpload(t, srv)
	s.DiscardPartition(rng(0, 0, bigCount))
	if ups := multipartUploads(t, srv); len(ups) != 0 {
		t.Errorf("multipart uploads left in progress after DiscardPartition: %v", ups)
	}
	w := s.Writer(rng(0, 0, bigCount))
	for o := range int64(bigCount) {
		v := impression(o, "")
		if err := w.WriteAt(o, &v); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Store(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	checkEveryOffsetOnce(t, s.Bucket(), map[int32]int64{0: bigCount})
	checkClean(t, srv, s.Bucket())
}

// startUpload begins a multipart upload of key and sends one part, as an
// instance killed mid-upload leaves it.
func startUpload(t testing.TB, srv *s3test.Server, key string) {
	t.Helper()
	ctx := context.Background()
	cl := srv.Client()
	up, err := cl.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(srv.Bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	part := make([]byte, 5<<20)
	if _, err := cl.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(srv.Bucket), Key: aws.String(key), UploadId: up.UploadId,
		PartNumber: aws.Int32(1), Body: bytes.NewReader(part)}); err != nil {
		t.Fatal(err)
	}
}

// TestBlobS3LoadAbortsDeadUploads: the multipart uploads instances killed
// mid-batch left under a partition's staging prefix are aborted by the
// next owner: at once by Load for ranges its chain has passed, and by the
// commit that passes them for a range at the chain's end (which a live
// instance's batch in flight may still complete, so Load keeps it);
// another partition's are not touched.
func TestBlobS3LoadAbortsDeadUploads(t *testing.T) {
	srv := s3test.Start(t)
	first := openBlob(t, srv.URL())
	if err := publish(t, first, 1, rng(0, 0, 5)); err != nil {
		t.Fatal(err)
	}
	passed := "_streamgen/staged/topic=imps/partition=0/00000000000000000000-00000000000000000005.0123456789abcdef.1.avro"
	atEnd := "_streamgen/staged/topic=imps/partition=0/00000000000000000005-00000000000000000009.0123456789abcdef.2.avro"
	other := "_streamgen/staged/topic=imps/partition=1/00000000000000000000-00000000000000000004.0123456789abcdef.3.avro"
	for _, k := range []string{passed, atEnd, other} {
		startUpload(t, srv, k)
	}
	next := openBlob(t, srv.URL())
	if got := load(t, next, tp(0)); got[tp(0)] != 5 {
		t.Fatalf("Load = %v, want 5", got)
	}
	if got, want := multipartUploads(t, srv), []string{atEnd, other}; !slices.Equal(got, want) {
		t.Errorf("multipart uploads after Load: %v, want %v", got, want)
	}
	if err := publish(t, next, 2, rng(0, 5, 9)); err != nil {
		t.Fatal(err)
	}
	if got, want := multipartUploads(t, srv), []string{other}; !slices.Equal(got, want) {
		t.Errorf("multipart uploads after the commit that passed the one at the chain's end: %v, want %v", got, want)
	}
	checkEveryOffsetOnce(t, next.Bucket(), map[int32]int64{0: 9})
}

// TestBlobS3RollLoadAbortsDeadUploads: a rolling sink's takeover aborts
// the multipart uploads of the open files of the instance it took the
// partition from, and Close aborts its own.
func TestBlobS3RollLoadAbortsDeadUploads(t *testing.T) {
	srv := s3test.Start(t)
	dead := "_streamgen/staged/topic=imps/partition=0/roll-00000000000000000000.0123456789abcdef.1.avro"
	startUpload(t, srv, dead)
	s := openBlob(t, srv.URL(), sink.BlobRoll(sink.RollLimits{MaxRecords: 1 << 30}), sink.BlobUploadBufferSize(5<<20), sink.BlobAvroCodec(codec.OCFNull))
	load(t, s, tp(0))
	if ups := multipartUploads(t, srv); len(ups) != 0 {
		t.Errorf("multipart uploads after the takeover: %v, want none", ups)
	}
	b := write(t, s, 1, bigPad(), rng(0, 0, bigCount))
	if err := s.Store(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	waitUpload(t, srv, dead) // the open file's
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if ups := multipartUploads(t, srv); len(ups) != 0 {
		t.Errorf("multipart uploads after Close: %v, want none", ups)
	}
}

// TestBlobLargeObject: an object uploaded in several parts (an S3
// multipart upload, a GCS resumable upload of several chunks) is
// published whole, and its upload is completed.
func TestBlobLargeObject(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ backend, srv objectStore) {
		s := openBlob(t, srv.URL(), sink.BlobUploadBufferSize(5<<20), sink.BlobAvroCodec(codec.OCFNull))
		b := write(t, s, 1, bigPad(), rng(0, 0, bigCount))
		if err := s.Store(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		key := "topic=imps/partition=0/00000000000000000000-00000000000000020000.avro"
		attrs, err := s.Bucket().Attributes(context.Background(), key)
		if err != nil {
			t.Fatal(err)
		}
		if attrs.Size < 20<<20 {
			t.Errorf("%s is %d bytes, want over 20 MiB (several parts)", key, attrs.Size)
		}
		checkEveryOffsetOnce(t, s.Bucket(), map[int32]int64{0: bigCount})
		checkClean(t, srv, s.Bucket())
	})
}

// TestBlobPrunedZombieFenced: on a real object store, a partition's old
// claims are pruned behind a marker, and a zombie whose next claim was
// pruned, so that its conditional create succeeds, is fenced by the
// marker (which a listing right after the create must show) and
// publishes nothing.
func TestBlobPrunedZombieFenced(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ backend, srv objectStore) {
		zombie := openBlob(t, srv.URL())
		load(t, zombie, tp(0))
		if err := publish(t, zombie, 1, rng(0, 0, 1)); err != nil {
			t.Fatal(err)
		}
		owner := openBlob(t, srv.URL())
		load(t, owner, tp(0))
		const batches = 40
		for i := range int64(batches) {
			if err := publish(t, owner, 2+i, rng(0, 1+i, 2+i)); err != nil {
				t.Fatal(err)
			}
		}
		// The prune runs in the background: wait for claim 1's removal.
		claim1 := "_streamgen/claims/topic=imps/partition=0/00000000000000000001"
		deadline := time.Now().Add(30 * time.Second)
		for slices.Contains(keys(t, owner.Bucket(), claim1), claim1) {
			if time.Now().After(deadline) {
				t.Fatalf("claim 1 is not pruned after %d batches: %v", batches+1, keys(t, owner.Bucket(), "_streamgen/claims/"))
			}
			time.Sleep(10 * time.Millisecond)
		}
		if got := keys(t, owner.Bucket(), "_streamgen/claims/topic=imps/partition=0/pruned/"); len(got) != 1 {
			t.Errorf("prune markers %v, want one", got)
		}
		err := publish(t, zombie, 2, rng(0, 1, 5))
		var fe *runtime.FencedError
		if !errors.As(err, &fe) || fe.Stored != batches+1 {
			t.Fatalf("the zombie's Store = %v, want a *FencedError at %d", err, batches+1)
		}
		if slices.Contains(keys(t, owner.Bucket(), claim1), claim1) {
			t.Error("the fenced zombie's claim 1 is left")
		}
		checkEveryOffsetOnce(t, owner.Bucket(), map[int32]int64{0: batches + 1})
		checkClean(t, srv, owner.Bucket())
	})
}

// TestBlobRollRestart: a rolling sink's files span batches and are
// published once they hold MaxRecords; an instance that dies between the
// claim of a file and its copy, with other files open, is followed by
// one whose Load publishes the claimed file and restarts each partition
// from its oldest unpublished file; that one's Drain publishes the files
// it holds open, and in the end every offset is published exactly once.
func TestBlobRollRestart(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend, srv objectStore) {
		ctx := context.Background()
		roll := sink.BlobRoll(sink.RollLimits{MaxRecords: 10})
		var crashed atomic.Bool
		first := openBlob(t, srv.Refusing(t, func(r *http.Request) bool { return crashed.Load() && be.isCopy(r) }), roll)
		load(t, first, tp(0), tp(1))
		for i, rs := range [][]runtime.OffsetRange{{rng(0, 0, 6), rng(1, 0, 3)}, {rng(0, 6, 13), rng(1, 3, 6)}} {
			if err := publish(t, first, int64(i+1), rs...); err != nil {
				t.Fatal(err)
			}
		}
		want := []string{"topic=imps/partition=0/00000000000000000000-00000000000000000010.avro"}
		if got := published(t, first.Bucket()); !slices.Equal(got, want) {
			t.Fatalf("published after two batches %v, want %v (partition 0's first file; the others open)", got, want)
		}
		// Dies between the claim of partition 0's second file and its copy.
		crashed.Store(true)
		if err := publish(t, first, 3, rng(0, 13, 21), rng(1, 6, 8)); err == nil {
			t.Fatal("Store succeeded with every copy refused")
		}

		next := openBlob(t, srv.URL(), roll)
		if got := load(t, next, tp(0), tp(1)); got[tp(0)] != 20 || got[tp(1)] != 0 {
			t.Fatalf("Load after the crash = %v, want 20 (the claimed file's end) and 0 (partition 1's open file)", got)
		}
		if ids := readAvro(t, next.Bucket(), "topic=imps/partition=0/00000000000000000010-00000000000000000020.avro"); !slices.Equal(ids, seq(10, 20)) {
			t.Errorf("the claimed file holds %v after Load, want 10 to 20", ids)
		}
		for i, rs := range [][]runtime.OffsetRange{{rng(0, 20, 27), rng(1, 0, 12)}, {rng(0, 27, 33), rng(1, 12, 15)}} {
			if err := publish(t, next, int64(i+10), rs...); err != nil {
				t.Fatal(err)
			}
		}
		if err := next.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		checkEveryOffsetOnce(t, next.Bucket(), map[int32]int64{0: 33, 1: 15})
		checkClean(t, srv, next.Bucket())
		if got := load(t, openBlob(t, srv.URL(), roll), tp(0), tp(1)); got[tp(0)] != 33 || got[tp(1)] != 15 {
			t.Errorf("Load after the Drain = %v, want 33 and 15", got)
		}
	})
}

// TestBlobOwnClaimLost: a claim the store made, whose response was lost,
// is retried by the SDK (Google's retries a create with
// ifGenerationMatch=0, as idempotent; the AWS SDK a PUT answered 503),
// and the retry refused (412, the key exists): the sink hears of its own
// claim as taken. It publishes all the same: per batch
// (a batch's claim, the chain's start) and rolling (Load's takeover, a
// file's claim: for that one the sink took itself for fenced before, and
// removed the staged file its claim, on the chain, names).
func TestBlobOwnClaimLost(t *testing.T) {
	for _, c := range []struct {
		name  string
		claim string
		opts  []sink.BlobOpt
	}{
		{"PerBatch", "_streamgen/claims/topic=imps/partition=0/00000000000000000000", nil},
		{"PerBatchStart", "_streamgen/claims/topic=imps/partition=0/start", nil},
		// Claim 1 is Load's takeover; 2 the first file's.
		{"RollTakeover", "_streamgen/claims/topic=imps/partition=0/roll/00000000000000000001", []sink.BlobOpt{sink.BlobRoll(sink.RollLimits{MaxRecords: 10})}},
		{"Roll", "_streamgen/claims/topic=imps/partition=0/roll/00000000000000000002", []sink.BlobOpt{sink.BlobRoll(sink.RollLimits{MaxRecords: 10})}},
	} {
		t.Run(c.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, be backend, srv objectStore) {
				var sent atomic.Int32
				s := openBlob(t, srv.Losing(t, func(r *http.Request) bool {
					return be.written(r) == c.claim && sent.Add(1) == 1
				}), c.opts...)
				load(t, s, tp(0))
				if err := publish(t, s, 1, rng(0, 0, 15)); err != nil {
					t.Fatal(err)
				}
				if n := sent.Load(); n < 2 {
					t.Fatalf("the claim was sent %d times, want a retry after its lost response", n)
				}
				if err := publish(t, s, 2, rng(0, 15, 25)); err != nil {
					t.Fatal(err)
				}
				if err := s.Drain(context.Background()); err != nil {
					t.Fatal(err)
				}
				checkEveryOffsetOnce(t, s.Bucket(), map[int32]int64{0: 25})
				checkClean(t, srv, s.Bucket())
				if got := load(t, openBlob(t, srv.URL(), c.opts...), tp(0)); got[tp(0)] != 25 {
					t.Errorf("Load by a new instance = %v, want 25", got)
				}
			})
		})
	}
}
