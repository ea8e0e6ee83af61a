package cloud_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"gocloud.dev/blob"

	"github.com/streamgen/streamgen/internal/gcstest"
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
