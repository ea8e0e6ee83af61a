package sink

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"gocloud.dev/blob"

	"github.com/streamgen/streamgen/runtime"
)

// claimObjects counts the objects under a chain's claim directory dir
// (the claims, the start, the head hint and the prune markers), and
// those of them that are claims.
func claimObjects(t *testing.T, b *blob.Bucket, dir string) (all, claims int) {
	t.Helper()
	it := b.List(&blob.ListOptions{Prefix: dir})
	for {
		o, err := it.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return all, claims
		}
		if err != nil {
			t.Fatal(err)
		}
		all++
		if _, ok := chainKey(o.Key[len(dir):]); ok {
			claims++
		}
	}
}

// The bound on a chain's objects: the claims pruneKeep+pruneEvery make
// before a prune, at most one more (a batch's while a prune runs), the
// start (or claim 1), the head and two markers.
const claimBound = pruneKeep + pruneEvery + 1 + 4

// TestBlobClaimsPruned: after many batches a partition's claims stay
// bounded; a new instance's Load goes on from the chain's end; a zombie
// that loaded before them, whose next claim's key was pruned, is
// fenced, publishes nothing, and leaves no claim behind.
func TestBlobClaimsPruned(t *testing.T) {
	for name, open := range blobBackends(t) {
		t.Run(name, func(t *testing.T) {
			tp := runtime.TopicPartition{Topic: "imps", Partition: 0}
			zombie := open(t)
			loadBlob(t, zombie, tp)
			if err := publishBlob(t, zombie, 1, rng("imps", 0, 0, 2)); err != nil {
				t.Fatal(err)
			}
			owner := open(t)
			loadBlob(t, owner, tp)
			const batches = 200
			for i := range int64(batches) {
				if err := publishBlob(t, owner, 2+i, rng("imps", 0, 2+2*i, 4+2*i)); err != nil {
					t.Fatal(err)
				}
			}
			owner.core.waitPrunes()
			end := int64(2 + 2*batches)
			all, claims := claimObjects(t, owner.Bucket(), claimDir(tp))
			if all > claimBound || claims < pruneKeep {
				t.Errorf("%d objects, %d of them claims, under %s after %d batches: want at most %d, and the last %d claims", all, claims, claimDir(tp), batches+1, claimBound, pruneKeep)
			}
			if got := loadBlob(t, open(t), tp); got[tp] != end {
				t.Errorf("Load after the prunes = %v, want %d", got, end)
			}
			// The zombie's chain ends at 2, whose claim is pruned: its
			// conditional create succeeds, and the markers fence it.
			wantFenced(t, publishBlob(t, zombie, 2, rng("imps", 0, 2, 9)), end)
			if ok, err := owner.Bucket().Exists(context.Background(), claimKey(tp, 2)); err != nil || ok {
				t.Errorf("the fenced zombie's claim of the pruned key 2 is left (%v, %v)", ok, err)
			}
			if err := publishBlob(t, owner, 300, rng("imps", 0, end, end+3)); err != nil {
				t.Fatal(err)
			}
			checkEveryOffsetOnce(t, owner.Bucket(), "imps", map[int32]int64{0: end + 3})
			if st := stagedObjects(t, owner.Bucket()); len(st) != 0 {
				t.Errorf("staged objects left: %v", st)
			}
		})
	}
}

// TestBlobClaimsPrunedStaleHead: a head hint that names a pruned claim
// (its write failed while the chain went on) does not send Load back:
// it follows from the greatest marker.
func TestBlobClaimsPrunedStaleHead(t *testing.T) {
	for name, open := range blobBackends(t) {
		t.Run(name, func(t *testing.T) {
			tp := runtime.TopicPartition{Topic: "imps", Partition: 0}
			s := open(t)
			loadBlob(t, s, tp)
			const batches = 100
			for i := range int64(batches) {
				if err := publishBlob(t, s, 1+i, rng("imps", 0, i, i+1)); err != nil {
					t.Fatal(err)
				}
			}
			s.core.waitPrunes()
			if err := s.Bucket().WriteAll(context.Background(), claimDir(tp)+"head", []byte("3"), nil); err != nil {
				t.Fatal(err)
			}
			if got := loadBlob(t, open(t), tp); got[tp] != batches {
				t.Errorf("Load with a stale head = %v, want %d", got, batches)
			}
		})
	}
}

// TestBlobRollClaimsPruned: a rolling chain's claims stay bounded
// (claim 1, which marks the chain rolling, stays); a new instance's
// Load goes on from the restart; an instance the owner took the
// partition from, whose next claim's number was pruned, is fenced.
func TestBlobRollClaimsPruned(t *testing.T) {
	for name, open := range blobBackends(t) {
		t.Run(name, func(t *testing.T) {
			clock := newFakeClock()
			opts := []BlobOpt{BlobRoll(RollLimits{MaxRecords: 2, MaxOpen: time.Hour}), blobClock(clock.Now)}
			tp := runtime.TopicPartition{Topic: "imps", Partition: 0}
			zombie := open(t, opts...)
			loadBlob(t, zombie, tp)
			mustStoreRoll(t, zombie, 1, plain, rng("imps", 0, 0, 2))
			owner := open(t, opts...)
			if got := loadBlob(t, owner, tp); got[tp] != 2 {
				t.Fatalf("the owner's Load = %v, want 2", got)
			}
			const batches = 200
			for i := range int64(batches) {
				mustStoreRoll(t, owner, 2+i, plain, rng("imps", 0, 2+2*i, 4+2*i))
			}
			owner.core.waitPrunes()
			end := int64(2 + 2*batches)
			all, claims := claimObjects(t, owner.Bucket(), rollDir(tp))
			if all > claimBound || claims < pruneKeep {
				t.Errorf("%d objects, %d of them claims, under %s after %d publishes: want at most %d, and the last %d claims", all, claims, rollDir(tp), batches+1, claimBound, pruneKeep)
			}
			if ok, err := owner.Bucket().Exists(context.Background(), rollKey(tp, 1)); err != nil || !ok {
				t.Errorf("claim 1 was pruned (%v, %v)", ok, err)
			}
			// The zombie's next claim is 3, pruned long ago.
			err := storeRoll(t, zombie, 2, plain, rng("imps", 0, 2, 4))
			if !errors.Is(err, runtime.ErrFenced) {
				t.Fatalf("the zombie's Store = %v, want fenced", err)
			}
			if ok, err := owner.Bucket().Exists(context.Background(), rollKey(tp, 3)); err != nil || ok {
				t.Errorf("the fenced zombie's claim 3 is left (%v, %v)", ok, err)
			}
			next := open(t, opts...)
			if got := loadBlob(t, next, tp); got[tp] != end {
				t.Fatalf("Load after the prunes = %v, want %d", got, end)
			}
			mustStoreRoll(t, next, 300, plain, rng("imps", 0, end, end+2))
			// next's first publish prunes the claims the owner kept, in
			// the background: fileblob fails a listing whose entry is
			// deleted meanwhile, so the check lists after it.
			next.core.waitPrunes()
			checkEveryOffsetOnce(t, owner.Bucket(), "imps", map[int32]int64{0: end + 2})
		})
	}
}
