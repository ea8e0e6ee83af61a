package cloud_test

import (
	"context"
	"testing"

	"github.com/streamgen/streamgen/generated_test/cases/alltypes/alltypes"
	"github.com/streamgen/streamgen/runtime/sink"
	_ "github.com/streamgen/streamgen/runtime/sink/cloud"
)

// TestS3URLOpens: with the package imported, the blob sink opens an s3://
// URL of an S3-compatible endpoint (no request is sent until a batch is
// written).
func TestS3URLOpens(t *testing.T) {
	s, err := sink.OpenBlob[alltypes.Impression](context.Background(),
		"s3://warehouse?region=us-east-1&endpoint=http://127.0.0.1:9&use_path_style=true&anonymous=true")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
