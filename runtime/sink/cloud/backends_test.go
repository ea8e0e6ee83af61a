package cloud_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/streamgen/streamgen/generated_test/cases/alltypes/alltypes"
	"github.com/streamgen/streamgen/internal/azuritetest"
	"github.com/streamgen/streamgen/internal/gcstest"
	"github.com/streamgen/streamgen/internal/s3test"
	"github.com/streamgen/streamgen/runtime/sink"
)

// objectStore is a server the blob sink's tests run on, with one bucket.
type objectStore interface {
	// URL is the bucket's gocloud.dev/blob URL.
	URL() string
	// Refusing is the URL of the bucket through a front that refuses
	// (with an error the SDK does not retry) the requests refuse
	// returns true for.
	Refusing(tb testing.TB, refuse func(*http.Request) bool) string
	// Losing is the URL of the bucket through a front that passes the
	// requests lose returns true for on, and answers 503 in place of
	// the response, which the SDK retries if it may.
	Losing(tb testing.TB, lose func(*http.Request) bool) string
}

// backend is a kind of object store: how to start one, and how to tell
// the sink's requests apart at its front: the server-side copy that
// publishes a staged object (isCopy), the conditional create of a claim
// (isClaim), the key an upload writes (written; "" for other requests).
type backend struct {
	name            string
	start           func(testing.TB) objectStore
	isCopy, isClaim func(*http.Request) bool
	written         func(*http.Request) string
}

// backends are the object stores the sink's exactly-once tests run on:
// S3 (versitygw, skipped where it is not built), GCS (fake-gcs-server,
// in the test's process) and Azure (Azurite, skipped where it is not
// installed).
var backends = []backend{
	{
		name:  "S3",
		start: func(tb testing.TB) objectStore { return s3test.Start(tb) },
		isCopy: func(r *http.Request) bool {
			return r.Header.Get("X-Amz-Copy-Source") != ""
		},
		isClaim: func(r *http.Request) bool {
			return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/_streamgen/claims/") && r.Header.Get("If-None-Match") != ""
		},
		written: func(r *http.Request) string { // PUT /BUCKET/KEY, path-style
			if r.Method != http.MethodPut || r.Header.Get("X-Amz-Copy-Source") != "" {
				return ""
			}
			_, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
			return key
		},
	},
	{
		name:  "GCS",
		start: func(tb testing.TB) objectStore { return gcstest.Start(tb) },
		// A copy is a rewrite (or copyTo) of the source object to the
		// destination's path; an upload names its object in the query.
		isCopy: func(r *http.Request) bool {
			return strings.Contains(r.URL.Path, "/rewriteTo/") || strings.Contains(r.URL.Path, "/copyTo/")
		},
		isClaim: func(r *http.Request) bool {
			q := r.URL.Query()
			return strings.HasPrefix(q.Get("name"), "_streamgen/claims/") && q.Get("ifGenerationMatch") == "0"
		},
		written: func(r *http.Request) string { return r.URL.Query().Get("name") },
	},
	{
		name:  "Azure",
		start: func(tb testing.TB) objectStore { return azuritetest.Start(tb) },
		isCopy: func(r *http.Request) bool {
			return r.Header.Get("X-Ms-Copy-Source") != ""
		},
		isClaim: func(r *http.Request) bool {
			return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/_streamgen/claims/") && r.Header.Get("If-None-Match") != ""
		},
		written: func(r *http.Request) string { // PUT /ACCOUNT/CONTAINER/KEY, a blob or one of its blocks
			if r.Method != http.MethodPut || r.Header.Get("X-Ms-Copy-Source") != "" {
				return ""
			}
			parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 3)
			if len(parts) < 3 {
				return ""
			}
			return parts[2]
		},
	},
}

// forEachBackend runs f as a subtest on a new server of each backend.
func forEachBackend(t *testing.T, f func(t *testing.T, be backend, srv objectStore)) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) { f(t, be, be.start(t)) })
	}
}

// TestBlobMissingBucket: a sink URL naming a bucket (a container) that
// does not exist fails to open, naming it, not at the first Load with an
// error about one of the sink's own keys.
func TestBlobMissingBucket(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ backend, srv objectStore) {
		url := strings.Replace(srv.URL(), "warehouse", "no-such-warehouse", 1)
		s, err := sink.OpenBlob[alltypes.Impression](context.Background(), url)
		if err == nil {
			s.Close()
			t.Fatalf("OpenBlob(%s) succeeded", url)
		}
		if !strings.Contains(err.Error(), `"no-such-warehouse" does not exist`) {
			t.Fatalf("OpenBlob(%s) = %v, want it to say the bucket does not exist, by name", url, err)
		}
		t.Log(err)
	})
}
