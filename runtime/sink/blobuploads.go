package sink

import (
	"context"
	"errors"
	"fmt"
)

// abortUploads aborts the incomplete multipart uploads of key, a staged
// object whose writer was abandoned: the writer's cancelled context
// should have aborted them, but the AWS SDK sends that abort with the
// same cancelled context, so it never leaves. A no-op where the store
// keeps no incomplete uploads.
func (c *blobSink) abortUploads(ctx context.Context, key string) error {
	return c.abortUploadsUnder(ctx, key, func(k string) bool { return k == key })
}

// abortUploadsUnder aborts the incomplete multipart uploads under prefix
// whose key drop accepts, all of them even if some fail.
func (c *blobSink) abortUploadsUnder(ctx context.Context, prefix string, drop func(key string) bool) error {
	if c.uploads == nil {
		return nil
	}
	ups, err := c.uploads.List(ctx, prefix)
	if err != nil {
		return fmt.Errorf("blob sink: %w", err)
	}
	var errs []error
	for _, u := range ups {
		if drop(u.Key) {
			if err := c.uploads.Abort(ctx, u); err != nil {
				errs = append(errs, fmt.Errorf("blob sink: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}
