// Package cloud registers the object stores' URL schemes with
// gocloud.dev/blob, so that the blob sink (sink.OpenBlob) opens them:
//
//	s3://BUCKET?region=R[&endpoint=URL&use_path_style=true]
//	                            Amazon S3 and S3-compatible stores (MinIO,
//	                            Ceph, R2); credentials from the AWS
//	                            environment (AWS_ACCESS_KEY_ID, profiles,
//	                            instance roles), never from the URL
//	gs://BUCKET                 Google Cloud Storage, with Application
//	                            Default Credentials; or, with
//	                            STORAGE_EMULATOR_HOST=HOST:PORT, an
//	                            emulator (fake-gcs-server, as the tests
//	                            do: internal/gcstest) without credentials
//	azblob://CONTAINER          Azure Blob Storage (AZURE_STORAGE_ACCOUNT
//	                            and its key, SAS token or a managed identity);
//	                            with ?localemu=true&protocol=http&domain=
//	                            HOST:PORT, an emulator (Azurite, as the
//	                            tests do: internal/azuritetest)
//
// A job that writes to object storage imports it for its side effect:
//
//	import _ "github.com/streamgen/streamgen/runtime/sink/cloud"
//
// It is its own package because the three SDKs are large: jobs whose sink
// is a local directory, PostgreSQL or Kafka do not link them.
package cloud

import (
	_ "gocloud.dev/blob/azureblob" // azblob://
	_ "gocloud.dev/blob/gcsblob"   // gs://
	_ "gocloud.dev/blob/s3blob"    // s3://
)
