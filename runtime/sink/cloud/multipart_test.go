package cloud_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/memblob"

	"github.com/streamgen/streamgen/internal/s3test"
	"github.com/streamgen/streamgen/runtime/sink/internal/multipart"
)

// TestMultipartUploadsFor: an s3:// bucket's incomplete uploads are
// reached through its driver's client and name, found without a request;
// they are listed by prefix and aborted, and aborting one that is gone
// is no error. Stores without such uploads have none.
func TestMultipartUploadsFor(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	var requests atomic.Int64
	url := srv.Refusing(t, func(*http.Request) bool { requests.Add(1); return false })
	b, err := blob.OpenBucket(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	u := multipart.For(b)
	if u == nil {
		t.Fatal("no multipart uploads for an s3:// bucket")
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("finding the bucket's uploads sent %d requests, want none", n)
	}
	startUpload(t, srv, "a/1")
	startUpload(t, srv, "b/1")
	ups, err := u.List(ctx, "a/")
	if err != nil {
		t.Fatal(err)
	}
	if len(ups) != 1 || ups[0].Key != "a/1" || ups[0].ID == "" {
		t.Fatalf("List(a/) = %v, want the upload of a/1", ups)
	}
	for range 2 {
		if err := u.Abort(ctx, ups[0]); err != nil {
			t.Fatal(err)
		}
	}
	if got := multipartUploads(t, srv); len(got) != 1 || got[0] != "b/1" {
		t.Errorf("uploads after aborting a/1: %v, want b/1's", got)
	}

	mem := memblob.OpenBucket(nil)
	defer mem.Close()
	dir, err := fileblob.OpenBucket(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	for name, b := range map[string]*blob.Bucket{"mem": mem, "file": dir} {
		if u := multipart.For(b); u != nil {
			t.Errorf("%s:// has multipart uploads %T, want none", name, u)
		}
	}
}
