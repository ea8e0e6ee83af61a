package cloud_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"gocloud.dev/blob"

	"github.com/streamgen/streamgen/internal/gcstest"
	"github.com/streamgen/streamgen/runtime/sink"
)

// The blob sink on gs://, against fake-gcs-server (internal/gcstest):
// GCS's conditional create is a precondition, ifGenerationMatch=0, and
// its copy a rewrite.

// gcsUpload sends a media upload of name to the JSON API by hand, with
// ifGenerationMatch=0 (create only if absent), and returns its status.
func gcsUpload(t *testing.T, srv *gcstest.Server, name, body string) int {
	t.Helper()
	q := url.Values{"uploadType": {"media"}, "name": {name}, "ifGenerationMatch": {"0"}}
	resp, err := http.Post("http://"+srv.Host+"/upload/storage/v1/b/"+srv.Bucket+"/o?"+q.Encode(), "application/octet-stream", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// TestGCSConditionalCreate: the emulator refuses a second create of a key
// with ifGenerationMatch=0 (412) and keeps the first one's content, as
// GCS does; so does gocloud's gs:// driver's IfNotExist, which the sink's
// claims use, racing creates of one key included.
func TestGCSConditionalCreate(t *testing.T) {
	srv := gcstest.Start(t)
	if got := gcsUpload(t, srv, "claims/0", "first"); got != http.StatusOK {
		t.Fatalf("a conditional create of a new key: %d, want 200", got)
	}
	if got := gcsUpload(t, srv, "claims/0", "second"); got != http.StatusPreconditionFailed {
		t.Fatalf("a second conditional create = %d, want 412 Precondition Failed", got)
	}
	b, err := blob.OpenBucket(context.Background(), srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	checkIfNotExist(t, b)
}

// TestGCSOwnClaimLost: a claim the store made, whose response was lost,
// is retried by Google's client (a create with ifGenerationMatch=0 is
// idempotent), and the retry refused (412, the key exists): the sink
// hears of its own claim as taken. It publishes all the same: per batch
// (a batch's claim, the chain's start) and rolling (Load's takeover, a
// file's claim: for that one the sink took itself for fenced before, and
// removed the staged file its claim, on the chain, names).
func TestGCSOwnClaimLost(t *testing.T) {
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
			srv := gcstest.Start(t)
			var sent atomic.Int32
			s := openBlob(t, srv.Losing(t, func(r *http.Request) bool {
				return r.URL.Query().Get("name") == c.claim && sent.Add(1) == 1
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
	}
}
