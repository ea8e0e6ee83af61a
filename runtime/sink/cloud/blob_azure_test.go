package cloud_test

import (
	"context"
	"testing"

	"gocloud.dev/blob"

	"github.com/streamgen/streamgen/internal/azuritetest"
)

// The blob sink on azblob://, against Azurite (internal/azuritetest):
// Azure's conditional create is If-None-Match: *, and its copy is
// asynchronous (gocloud polls it to completion).

// TestAzureConditionalCreate: the emulator refuses a second create of a
// key with If-None-Match: * and keeps the first one's content, as Azure
// does, racing creates of one key included; so the sink's claims fence
// on azblob:// as on s3:// and gs://.
func TestAzureConditionalCreate(t *testing.T) {
	srv := azuritetest.Start(t)
	b, err := blob.OpenBucket(context.Background(), srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.WriteAll(context.Background(), "claims/0", []byte("first"), &blob.WriterOptions{IfNotExist: true}); err != nil {
		t.Fatalf("a conditional create of a new key: %v", err)
	}
	checkIfNotExist(t, b)
}
