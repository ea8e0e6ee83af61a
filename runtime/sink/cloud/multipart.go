package cloud

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"gocloud.dev/blob"

	"github.com/streamgen/streamgen/runtime/sink/internal/multipart"
)

func init() { multipart.Register(s3Uploads) }

// s3Multipart is an s3:// bucket's incomplete multipart uploads, through
// the driver's own client (so its endpoint, region and credentials).
type s3Multipart struct {
	client *s3.Client
	bucket string
}

// errGotName stops the listing s3Uploads starts only to read the
// bucket's name.
var errGotName = errors.New("got the bucket's name")

// s3Uploads is b's uploads when b is an s3:// bucket, else nil. The
// driver gives its client (Bucket.As) but not the bucket's name, which
// the request a listing would send holds: it is read there, and the
// listing stopped before anything is sent.
func s3Uploads(b *blob.Bucket) multipart.Uploads {
	var client *s3.Client
	if !b.As(&client) {
		return nil
	}
	var name string
	it := b.List(&blob.ListOptions{BeforeList: func(as func(any) bool) error {
		var v2 *s3.ListObjectsV2Input
		var v1 *s3.ListObjectsInput
		switch {
		case as(&v2):
			name = aws.ToString(v2.Bucket)
		case as(&v1):
			name = aws.ToString(v1.Bucket)
		}
		return errGotName
	}})
	_, _ = it.Next(context.Background())
	if name == "" {
		return nil
	}
	return &s3Multipart{client: client, bucket: name}
}

func (m *s3Multipart) List(ctx context.Context, prefix string) ([]multipart.Upload, error) {
	var out []multipart.Upload
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String(m.bucket), Prefix: aws.String(prefix)}
	for {
		page, err := m.client.ListMultipartUploads(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("listing the incomplete multipart uploads under %s: %w", prefix, err)
		}
		for _, u := range page.Uploads {
			out = append(out, multipart.Upload{Key: aws.ToString(u.Key), ID: aws.ToString(u.UploadId)})
		}
		if !aws.ToBool(page.IsTruncated) {
			return out, nil
		}
		in.KeyMarker, in.UploadIdMarker = page.NextKeyMarker, page.NextUploadIdMarker
	}
}

func (m *s3Multipart) Abort(ctx context.Context, u multipart.Upload) error {
	_, err := m.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(m.bucket), Key: aws.String(u.Key), UploadId: aws.String(u.ID)})
	var nu *types.NoSuchUpload
	if err != nil && !errors.As(err, &nu) {
		return fmt.Errorf("aborting the multipart upload of %s: %w", u.Key, err)
	}
	return nil
}
