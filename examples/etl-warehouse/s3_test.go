package main

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/streamgen/streamgen/internal/s3test"
)

// TestWarehouseETLOnS3 is TestWarehouseETL with the one setting changed
// that moves the warehouse to S3: the sink's URL, an s3:// bucket on a
// real S3 server (versitygw). The objects are read back through S3; no
// multipart upload is left in progress.
func TestWarehouseETLOnS3(t *testing.T) {
	srv := s3test.Start(t)
	runTwice(t, srv.URL())

	ups, err := srv.Client().ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(srv.Bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if len(ups.Uploads) != 0 {
		t.Errorf("%d multipart uploads left in progress", len(ups.Uploads))
	}
}
