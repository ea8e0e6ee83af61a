// Package multipart lets the blob sink abort the incomplete multipart
// uploads of an object store that keeps them (S3): a bucket's Delete
// does not reach them, the AWS SDK does not send the abort of an upload
// whose context was cancelled, and an instance that is killed sends none,
// so without this they would stay (and be billed) until a lifecycle rule
// removes them. The package that registers a store's driver (package
// cloud, for s3://) registers its Uploads too; package sink, which must
// not link the stores' SDKs, finds them through For.
package multipart

import (
	"context"
	"sync"

	"gocloud.dev/blob"
)

// Upload is one incomplete multipart upload: the key it would create and
// the store's id of the upload.
type Upload struct {
	Key, ID string
}

// Uploads lists and aborts a bucket's incomplete multipart uploads.
type Uploads interface {
	// List returns the uploads whose key starts with prefix.
	List(ctx context.Context, prefix string) ([]Upload, error)
	// Abort aborts u; an upload that is gone already is no error.
	Abort(ctx context.Context, u Upload) error
}

var (
	mu     sync.Mutex
	makers []func(*blob.Bucket) Uploads
)

// Register adds a maker of Uploads; it returns nil for a bucket that is
// not of its store.
func Register(f func(*blob.Bucket) Uploads) {
	mu.Lock()
	defer mu.Unlock()
	makers = append(makers, f)
}

// For is b's Uploads, or nil when b's store keeps no incomplete uploads
// to abort (file:// and mem:// leave none; gs:// and azblob:// discard an
// unfinished write's data themselves, within a week) or its driver did
// not register any.
func For(b *blob.Bucket) Uploads {
	mu.Lock()
	defer mu.Unlock()
	for _, f := range makers {
		if u := f(b); u != nil {
			return u
		}
	}
	return nil
}
