package sink

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
)

// TestBlobListingSurvivesEntriesGoingAway lists a file:// prefix while
// other objects under it are written (fileblob renames a temporary file
// next to the object) and deleted, as claims are while a prune lists
// them. fileblob fails such a listing when an entry goes away between
// reading the directory and reading the entry; the sink's listing must
// list again and see every object that stayed, never fail.
func TestBlobListingSurvivesEntriesGoingAway(t *testing.T) {
	ctx := context.Background()
	b, err := fileblob.OpenBucket(t.TempDir(), &fileblob.Options{CreateDir: true, NoTempDir: true, Metadata: fileblob.MetadataDontWrite})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const stay = 300
	for i := range stay {
		if err := b.WriteAll(ctx, fmt.Sprintf("claims/stay-%04d", i), []byte("x"), nil); err != nil {
			t.Fatal(err)
		}
	}
	c := &blobSink{bucket: b, objects: &dirObjects{b: b}}
	// Claims are written and deleted (churn) while listings run: a
	// fixed number, as fast as they go, far faster than a job's batches
	// write claims.
	churned := make(chan struct{})
	go func() {
		defer close(churned)
		for i := range 1000 {
			key := fmt.Sprintf("claims/churn-%04d", i%50)
			_ = b.WriteAll(ctx, key, []byte("x"), nil)
			_ = b.Delete(ctx, key)
		}
	}()
	for listings := 0; ; listings++ {
		select {
		case <-churned:
			if listings == 0 {
				t.Fatal("no listing ran while objects were written and deleted")
			}
			return
		default:
		}
		var seen int
		err := c.list(ctx, &blob.ListOptions{Prefix: "claims/"}, func() { seen = 0 }, func(o *blob.ListObject) error {
			if strings.HasPrefix(o.Key, "claims/stay-") {
				seen++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if seen != stay {
			t.Fatalf("a listing saw %d of the %d objects that stayed", seen, stay)
		}
	}
}
