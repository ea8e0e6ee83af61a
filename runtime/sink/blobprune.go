package sink

import (
	"context"
	"fmt"
	"path"
	"strconv"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/streamgen/streamgen/runtime"
)

// Pruning claims. Every publish makes a claim object, so without this a
// partition's claims grow by one per batch (or per rolled file) forever.
// Once a partition's chain has grown pruneKeep+pruneEvery claims past
// the last prune, the instance that made the newest of them deletes, in
// the background, those more than pruneKeep behind its end; the last few
// stay so that a zombie only a few batches behind is fenced the usual
// way, by the claim it would make already existing, and so that the head
// hints point at claims that exist.
//
// Why a deleted claim cannot be made again. The claims of a chain are
// its keys: per batch the FROM offsets, rolling the sequence numbers. A
// zombie that knows the chain only to some key K tries to create claim
// K by conditional create, and is fenced because K exists. Deleting K
// would let that create succeed. So a prune first creates a marker,
// pruned/M (M a key of its own chain, whose claim it keeps), and only
// then deletes the claims before M; markers are deleted only once a
// greater one exists, so the greatest marker never decreases. Every
// commit, after its conditional create of claim K succeeds and before it
// publishes anything, lists the markers (LIST is strongly consistent on
// S3, GCS, Azure and a directory): if the greatest is past K, the claim
// it made is of a key the chain had passed, so it is fenced and removes
// it. That check cannot miss: for the create to succeed on a key that
// was used, that key's claim must have been deleted before it, so a
// marker past K was created before it too, and is (or a greater one is)
// still there when the commit lists them. If the greatest marker is at
// or before K, no claim of K was ever deleted, so the create was K's
// first and the fencing is what it was without pruning. Load never reads
// a claim the check refuses: it starts following at the greatest marker
// at least (or the head hint, if greater). (The check may also refuse a
// claim that was on the chain, if others followed it and pruned past it
// before the check ran; their Load published its objects on the way, so
// refusing it loses nothing.) A store whose listings may lag its writes
// is as unsafe for pruning as one that ignores conditional creates is
// for fencing.
//
// What is kept: a rolling chain's claim 1, whose existence tells a
// per-batch sink that the partition's chain is a rolling one; the
// per-batch chain's start object; and the head hints.
const (
	pruneKeep  = 16
	pruneEvery = 16
)

// prunedDir holds a chain's markers (see above); dir is claimDir(tp) or
// rollDir(tp).
func prunedDir(dir string) string { return dir + "pruned/" }

// floor is the greatest marker of the chain in dir: its claims before it
// may be deleted. ok is false when it has none.
func (c *blobSink) floor(ctx context.Context, dir string) (m int64, ok bool, err error) {
	err = c.list(ctx, &blob.ListOptions{Prefix: prunedDir(dir)}, func() { m, ok = 0, false }, func(o *blob.ListObject) error {
		if k, isKey := chainKey(path.Base(o.Key)); isKey && (!ok || k > m) {
			m, ok = k, true
		}
		return nil
	})
	if err != nil {
		return 0, false, err
	}
	return m, ok, nil
}

// chainKey parses a claim's or marker's name: 20 digits.
func chainKey(name string) (int64, bool) {
	if len(name) != 20 {
		return 0, false
	}
	k, err := strconv.ParseInt(name, 10, 64)
	return k, err == nil && k >= 0
}

// passedFloor reports whether the claim of key k that this instance has
// just made, in the chain in dir, is of a key pruned before (see above),
// and if so removes it: the commit must then be fenced and publish
// nothing.
func (c *blobSink) passedFloor(ctx context.Context, dir string, k int64) (bool, error) {
	m, ok, err := c.floor(ctx, dir)
	if err != nil || !ok || m <= k {
		return false, err
	}
	key := dir + fmt.Sprintf("%020d", k)
	if err := c.bucket.Delete(ctx, key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		c.cfg.log.Warn("blob sink: removing a claim of a pruned key", "key", key, "err", err)
	}
	return true, nil
}

// startAt is where following the chain in dir starts: the head hint
// (from, if ok), but never before the greatest marker, before which
// claims may be gone.
func (c *blobSink) startAt(ctx context.Context, dir string, from int64, ok bool) (int64, bool, error) {
	m, marked, err := c.floor(ctx, dir)
	if err != nil {
		return 0, false, err
	}
	if marked && (!ok || m > from) {
		return m, true, nil
	}
	return from, ok, nil
}

// prune starts, in the background, the prune of the chain in dir before
// its key m, which this instance committed. One prune per chain runs at
// a time: a prune asked for meanwhile runs after it, with the greatest m
// asked. Errors are logged (a prune that fails is done again by the
// next). keep spares a key.
func (c *blobSink) prune(tp runtime.TopicPartition, dir string, m int64, keep func(int64) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	next, running := c.pruning[dir]
	c.pruning[dir] = max(m, next)
	if running {
		return
	}
	c.prunes.Add(1)
	go func() {
		defer c.prunes.Done()
		done := int64(-1)
		for {
			c.mu.Lock()
			m := c.pruning[dir]
			if m <= done || c.closed {
				delete(c.pruning, dir)
				c.mu.Unlock()
				return
			}
			c.mu.Unlock()
			if err := c.pruneNow(context.Background(), dir, m, keep); err != nil && !c.isClosed() {
				c.cfg.log.Warn("blob sink: pruning old claims failed; the next prune tries again", "topic", tp.Topic, "partition", tp.Partition, "err", err)
			}
			done = m
		}
	}()
}

func (c *blobSink) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// pruneNow marks m, then deletes the chain's claims before m (listed, so
// that those a crashed prune or a fenced zombie left go too), then the
// markers before m.
func (c *blobSink) pruneNow(ctx context.Context, dir string, m int64, keep func(int64) bool) error {
	marker := prunedDir(dir) + fmt.Sprintf("%020d", m)
	if err := c.bucket.WriteAll(ctx, marker, []byte(strconv.FormatInt(m, 10)), nil); err != nil {
		return fmt.Errorf("blob sink: writing %s: %w", marker, err)
	}
	for _, d := range []string{dir, prunedDir(dir)} {
		err := c.list(ctx, &blob.ListOptions{Prefix: d, Delimiter: "/"}, nil, func(o *blob.ListObject) error {
			k, isKey := chainKey(path.Base(o.Key))
			if o.IsDir || !isKey || k >= m || keep(k) {
				return nil
			}
			if c.isClosed() {
				return errStopListing
			}
			return c.remove(ctx, o.Key)
		})
		if err != nil || c.isClosed() {
			return err
		}
	}
	return nil
}

// waitPrunes waits for the prunes in flight (Close, and tests).
func (c *blobSink) waitPrunes() { c.prunes.Wait() }
