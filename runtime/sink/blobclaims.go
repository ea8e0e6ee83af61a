package sink

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/streamgen/streamgen/runtime"
)

// The blob sink's state, under URL/_streamgen/ (Hive and Spark skip it):
//
//	claims/topic=T/partition=P/FROM   a committed range [FROM, UNTIL): JSON
//	                                  with UNTIL, its objects and the instance
//	claims/topic=T/partition=P/start  the FROM of the partition's first claim
//	claims/topic=T/partition=P/head   the FROM of a recent claim, where Load
//	                                  starts following the chain (a hint: it
//	                                  is overwritten and may be stale)
//	claims/topic=T/partition=P/pruned/FROM
//	                                  a prune marker: the claims before
//	                                  FROM may be deleted (blobprune.go)
//	staged/topic=T/partition=P/...    batches' values before their claim
//
// and, for a rolling sink (blobroll.go):
//
//	claims/topic=T/partition=P/roll/SEQ   claim SEQ (1, 2, ...): JSON with
//	                                      the restart offset, the per-bucket
//	                                      watermarks, the objects it publishes
//	                                      (none for a takeover) and the instance
//	claims/topic=T/partition=P/roll/head  the SEQ of a recent claim (a hint)
//	claims/topic=T/partition=P/roll/pruned/SEQ
//	                                      a prune marker, as pruned/FROM
//	staged/topic=T/partition=P/roll-...   open and finished files before
//	                                      their claim
//
// Claims and start are made only by conditional create, never replaced,
// so every claim ever made is on the one chain from start. All but the
// last few claims of a chain are pruned, behind a marker that fences
// whoever makes a pruned claim again (blobprune.go).

// claimRecord is a claim object's content.
type claimRecord struct {
	Until    int64         `json:"until"`
	Objects  []claimObject `json:"objects"`
	Instance string        `json:"instance"`
}

// claimObject is one object of a claimed range: its published key and the
// staging object it is copied from.
type claimObject struct {
	Key    string `json:"key"`
	Staged string `json:"staged"`
}

func claimDir(tp runtime.TopicPartition) string {
	return fmt.Sprintf("%s/claims/topic=%s/partition=%d/", internalDir, tp.Topic, tp.Partition)
}

func claimKey(tp runtime.TopicPartition, from int64) string {
	return claimDir(tp) + fmt.Sprintf("%020d", from)
}

// dataKey is r's published key in a bucket (its K=V/ levels):
// topic=T/[K=V/...]partition=P/FROM-UNTIL.EXT.
func (c *blobSink) dataKey(r runtime.OffsetRange, bucket string) string {
	return fmt.Sprintf("topic=%s/%spartition=%d/%020d-%020d.%s", r.Topic, bucket, r.Partition, r.FromOffset, r.UntilOffset, c.ext)
}

// objectStore is how the sink makes claims and publishes objects: the
// two steps whose atomicity fencing and exactly-once rest on.
type objectStore interface {
	// create writes key with data unless key exists; won is false when
	// it exists.
	create(ctx context.Context, key string, data []byte) (won bool, err error)
	// publish makes dst a copy of src.
	publish(ctx context.Context, dst, src string) error
	// durable makes a finished object survive a power loss.
	durable(ctx context.Context, key string) error
}

// bucketObjects relies on the bucket's conditional create (IfNotExist).
type bucketObjects struct{ b *blob.Bucket }

func (o *bucketObjects) create(ctx context.Context, key string, data []byte) (bool, error) {
	err := o.b.WriteAll(ctx, key, data, &blob.WriterOptions{IfNotExist: true, ContentType: "application/json"})
	if gcerrors.Code(err) == gcerrors.FailedPrecondition {
		return false, nil
	}
	return err == nil, err
}

func (o *bucketObjects) publish(ctx context.Context, dst, src string) error {
	return o.b.Copy(ctx, dst, src, nil)
}

func (o *bucketObjects) durable(context.Context, string) error { return nil }

// dirObjects is a file:// bucket's directory: claims by link(2), which
// never replaces a file, across processes (fileblob's IfNotExist guards
// only its own process); published files are hard links of the staged
// ones, synced with their directories.
type dirObjects struct {
	dir string
	b   *blob.Bucket
}

func (o *dirObjects) path(key string) string { return filepath.Join(o.dir, filepath.FromSlash(key)) }

func (o *dirObjects) create(_ context.Context, key string, data []byte) (bool, error) {
	final := o.path(key)
	if err := mkdirDurable(o.dir, filepath.Dir(final)); err != nil {
		return false, err
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := final + "." + hex.EncodeToString(rnd[:]) + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return false, notWritable(tmp, err)
	}
	defer os.Remove(tmp)
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, fmt.Errorf("blob sink: writing %s: %w", tmp, err)
	}
	if err := os.Link(tmp, final); errors.Is(err, fs.ErrExist) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("blob sink: creating %s: %w", final, err)
	}
	return true, syncDir(filepath.Dir(final))
}

func (o *dirObjects) publish(_ context.Context, dst, src string) error {
	final := o.path(dst)
	if err := mkdirDurable(o.dir, filepath.Dir(final)); err != nil {
		return err
	}
	// An existing dst is this claim's object, linked by an earlier
	// attempt: claims name each key once.
	if err := os.Link(o.path(src), final); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(filepath.Dir(final))
}

func (o *dirObjects) durable(_ context.Context, key string) error {
	f, err := os.Open(o.path(key))
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncDir(filepath.Dir(o.path(key)))
	}
	return err
}

// blobFenced is a batch whose claim another instance made, or that does
// not start where the partition's chain ends (stored).
func blobFenced(r runtime.OffsetRange, stored int64, why string) *runtime.FencedError {
	return &runtime.FencedError{Range: r, Stored: stored, Store: "blob sink",
		Why: fmt.Sprintf("topic %s partition %d: the batch %d to %d %s; nothing of this partition's batch was published", r.Topic, r.Partition, r.FromOffset, r.UntilOffset, why)}
}

// commit claims s's range and publishes its object.
func (c *blobSink) commit(ctx context.Context, s *blobSlot) error {
	r, tp := s.r, s.r.TopicPartition()
	c.mu.Lock()
	end, known := c.chains[tp]
	c.mu.Unlock()
	if known && end != r.FromOffset {
		return blobFenced(r, end, fmt.Sprintf("does not start where the partition's chain of claims ends (%d) as this instance knows it", end))
	}
	objs := s.objects()
	for _, o := range objs {
		if err := c.objects.durable(ctx, o.Staged); err != nil {
			if f := c.passed(ctx, r); f != nil {
				return f
			}
			return fmt.Errorf("blob sink: %s: %w", r, err)
		}
	}
	if !known {
		if err := c.startChain(ctx, r); err != nil {
			return err
		}
		// The chain starts at FROM now: a retry of this batch must find
		// its own claim, not start the chain again.
		c.mu.Lock()
		c.chains[tp] = r.FromOffset
		c.mu.Unlock()
	}
	rec, err := c.claim(ctx, s, objs)
	if err != nil {
		return err
	}
	if err := c.publishClaim(ctx, rec, false); err != nil {
		return fmt.Errorf("blob sink: publishing %s: %w", r, err)
	}
	// The head is a hint for Load; the staged object a leftover that
	// Load removes. Neither affects what was committed.
	_ = c.bucket.WriteAll(ctx, claimDir(tp)+"head", []byte(strconv.FormatInt(r.FromOffset, 10)), nil)
	for _, o := range rec.Objects {
		_ = c.bucket.Delete(ctx, o.Staged)
	}
	if !slices.Equal(objs, rec.Objects) { // an earlier attempt's claim: this one's objects are leftovers
		s.setKeep(false)
		for _, o := range objs {
			_ = c.bucket.Delete(ctx, o.Staged)
		}
	}
	c.committed(ctx, tp, r)
	return nil
}

// claim makes the claim of s's range, naming objs, or finds this
// instance's own from an attempt whose publication failed (whose record
// it returns, to finish). A range another instance claimed, or one whose
// key the chain passed and pruned, is fenced.
func (c *blobSink) claim(ctx context.Context, s *blobSlot, objs []claimObject) (claimRecord, error) {
	r, tp := s.r, s.r.TopicPartition()
	rec := claimRecord{Until: r.UntilOffset, Instance: c.id, Objects: objs}
	data, _ := json.Marshal(rec)
	s.setKeep(true) // from here on, a claim may name the staging objects
	won, err := c.objects.create(ctx, claimKey(tp, r.FromOffset), data)
	if err != nil {
		return rec, fmt.Errorf("blob sink: claiming %s: %w", r, err)
	}
	if !won {
		held, err := c.readClaim(ctx, tp, r.FromOffset)
		if err != nil {
			return rec, err
		}
		if held.Instance != c.id || held.Until != r.UntilOffset {
			s.setKeep(false)
			c.forget(tp)
			stored, ferr := c.follow(ctx, tp, r.FromOffset, false)
			if ferr != nil {
				stored = held.Until
			}
			return rec, blobFenced(r, stored, fmt.Sprintf("was claimed by another instance (%s, to %d): it owns the partition now, or owned it before", held.Instance, held.Until))
		}
		// This instance's own claim, from an attempt whose publication
		// failed: finish that one.
		rec = held
	}
	if stale, err := c.passedFloor(ctx, claimDir(tp), r.FromOffset); err != nil {
		return rec, fmt.Errorf("blob sink: claiming %s: %w", r, err)
	} else if stale {
		s.setKeep(false) // the claim that named them is removed
		c.forget(tp)
		stored, _, ferr := c.chainEnd(ctx, tp)
		if ferr != nil {
			stored = -1
		}
		return rec, blobFenced(r, stored, "was claimed after the partition's chain of claims had passed it and pruned its claim: another instance owns the partition now, or owned it before")
	}
	return rec, nil
}

// committed records that tp's chain ends at r's end now, removes the
// leftovers the chain passed, and prunes the chain's old claims once it
// has grown enough.
func (c *blobSink) committed(ctx context.Context, tp runtime.TopicPartition, r runtime.OffsetRange) {
	c.mu.Lock()
	c.chains[tp] = r.UntilOffset
	left := c.leftovers[tp]
	recent := append(c.recent[tp], r.FromOffset)
	m := int64(-1)
	if len(recent) >= pruneKeep+pruneEvery {
		m, recent = recent[len(recent)-pruneKeep], slices.Clone(recent[len(recent)-pruneKeep:])
	}
	c.recent[tp] = recent
	c.mu.Unlock()
	if left {
		c.removePassed(ctx, tp, r.UntilOffset)
	}
	if m >= 0 {
		c.prune(tp, claimDir(tp), m, func(int64) bool { return false })
	}
}

// removePassed removes the staged objects another instance left at tp's
// chain's end when this one loaded it, which the chain, now at end, has
// passed, so no claim can name them. Best effort, as a commit's deletes
// of its own staging: a Load removes what this misses.
func (c *blobSink) removePassed(ctx context.Context, tp runtime.TopicPartition, end int64) {
	if left, err := c.removeStaged(ctx, tp, end); err == nil {
		c.mu.Lock()
		c.leftovers[tp] = left
		c.mu.Unlock()
	}
}

// passed is the error of a batch whose staging failed because another
// instance claimed its range meanwhile, and removed the staged objects
// its chain had passed: the batch is a zombie's (frozen, or cut off
// from the group), fenced as its claim would have been. Nil when r's
// claim is not another instance's.
func (c *blobSink) passed(ctx context.Context, r runtime.OffsetRange) *runtime.FencedError {
	tp := r.TopicPartition()
	held, err := c.readClaim(ctx, tp, r.FromOffset)
	if err != nil || held.Instance == c.id {
		return nil
	}
	c.forget(tp)
	stored, err := c.follow(ctx, tp, r.FromOffset, false)
	if err != nil {
		stored = held.Until
	}
	return blobFenced(r, stored, fmt.Sprintf("was claimed by another instance (%s, to %d) while this one staged it: it owns the partition now, or owned it before", held.Instance, held.Until))
}

// startChain creates the partition's start at r's FROM, or checks that
// the chain another instance started ends there.
func (c *blobSink) startChain(ctx context.Context, r runtime.OffsetRange) error {
	tp := r.TopicPartition()
	_, started, err := c.readOffset(ctx, claimDir(tp)+"start")
	if err != nil {
		return err
	}
	if !started {
		// Files a files sink published before are the chain's past.
		if end, ok, err := c.adopt(ctx, tp); err != nil {
			return err
		} else if ok && end != r.FromOffset {
			return blobFenced(r, end, fmt.Sprintf("starts the partition's claims, but the files already in its directory end at %d", end))
		}
		won, err := c.objects.create(ctx, claimDir(tp)+"start", []byte(strconv.FormatInt(r.FromOffset, 10)))
		if err != nil {
			return fmt.Errorf("blob sink: starting topic %s partition %d: %w", tp.Topic, tp.Partition, err)
		}
		if won {
			return nil
		}
	}
	end, ok, err := c.load(ctx, tp)
	if err != nil {
		return err
	}
	if !ok || end != r.FromOffset {
		c.forget(tp)
		return blobFenced(r, end, fmt.Sprintf("starts the partition, but another instance started it and its chain of claims ends at %d", end))
	}
	return nil
}

func (c *blobSink) forget(tp runtime.TopicPartition) {
	c.mu.Lock()
	delete(c.chains, tp)
	c.mu.Unlock()
}

// publishClaim copies each object of a claim to its published key. With
// check (Load's roll-forward) it first skips those already published; a
// second copy would be harmless, since a claim's object has one content.
func (c *blobSink) publishClaim(ctx context.Context, rec claimRecord, check bool) error {
	for _, o := range rec.Objects {
		if check {
			ok, err := c.bucket.Exists(ctx, o.Key)
			if err != nil {
				return err
			}
			if ok {
				continue
			}
		}
		if err := c.objects.publish(ctx, o.Key, o.Staged); err != nil {
			// A concurrent publisher of the same claim (the instance
			// that made it, and a Load) may have taken the staged object.
			if ok, _ := c.bucket.Exists(ctx, o.Key); ok {
				continue
			}
			return err
		}
	}
	return nil
}

func (c *blobSink) readClaim(ctx context.Context, tp runtime.TopicPartition, from int64) (claimRecord, error) {
	var rec claimRecord
	data, err := c.bucket.ReadAll(ctx, claimKey(tp, from))
	if gcerrors.Code(err) == gcerrors.NotFound {
		return rec, errNoObject
	}
	if err != nil {
		return rec, fmt.Errorf("blob sink: reading the claim of topic %s partition %d offset %d: %w", tp.Topic, tp.Partition, from, err)
	}
	if err := json.Unmarshal(data, &rec); err != nil || rec.Until <= from {
		return rec, &LayoutError{Topic: tp.Topic, Partition: tp.Partition, Files: []string{claimKey(tp, from)},
			Problem: fmt.Sprintf("a claim the sink did not write (want JSON with an until past %d and its objects)", from)}
	}
	return rec, nil
}

// follow walks the chain of claims from from to its end, publishing the
// objects of claims whose instance died before it did when roll is set.
func (c *blobSink) follow(ctx context.Context, tp runtime.TopicPartition, from int64, roll bool) (int64, error) {
	for {
		rec, err := c.readClaim(ctx, tp, from)
		if errors.Is(err, errNoObject) {
			return from, nil
		}
		if err != nil {
			return 0, err
		}
		if roll {
			if err := c.publishClaim(ctx, rec, true); err != nil {
				return 0, fmt.Errorf("blob sink: topic %s partition %d: publishing the objects of the claim at %d: %w", tp.Topic, tp.Partition, from, err)
			}
		}
		from = rec.Until
	}
}

// readOffset reads a start or head object; ok is false when it is
// missing.
func (c *blobSink) readOffset(ctx context.Context, key string) (int64, bool, error) {
	data, err := c.bucket.ReadAll(ctx, key)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("blob sink: reading %s: %w", key, err)
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil || v < 0 {
		return 0, false, fmt.Errorf("blob sink: %s holds %q, not an offset", key, data)
	}
	return v, true, nil
}

// chainFrom is where following tp's chain starts: its head hint, or its
// start, but not before the greatest prune marker. ok is false without
// a chain.
func (c *blobSink) chainFrom(ctx context.Context, tp runtime.TopicPartition) (int64, bool, error) {
	from, ok, err := c.readOffset(ctx, claimDir(tp)+"head")
	if err == nil && !ok {
		from, ok, err = c.readOffset(ctx, claimDir(tp)+"start")
	}
	if err != nil || !ok {
		return 0, false, err
	}
	return c.startAt(ctx, claimDir(tp), from, ok)
}

// chainEnd reads tp's chain end, publishing nothing: for the errors of
// fenced batches.
func (c *blobSink) chainEnd(ctx context.Context, tp runtime.TopicPartition) (int64, bool, error) {
	from, ok, err := c.chainFrom(ctx, tp)
	if err != nil || !ok {
		return 0, ok, err
	}
	end, err := c.follow(ctx, tp, from, false)
	return end, err == nil, err
}

// load finds tp's chain end, completing claims on the way, and removes
// staged objects that no claim to come can name.
func (c *blobSink) load(ctx context.Context, tp runtime.TopicPartition) (int64, bool, error) {
	from, ok, err := c.chainFrom(ctx, tp)
	if err != nil {
		return 0, false, err
	}
	if !ok {
		c.forget(tp)
		end, ok, err := c.adopt(ctx, tp)
		if err != nil {
			return 0, false, err
		}
		// Before its first claim, a partition's chain ends where its
		// files do (0 without any).
		left, err := c.removeStaged(ctx, tp, end)
		if err != nil {
			return 0, false, err
		}
		c.mu.Lock()
		c.leftovers[tp] = left
		c.mu.Unlock()
		return end, ok, nil
	}
	end, err := c.follow(ctx, tp, from, true)
	if err != nil {
		return 0, false, err
	}
	left, err := c.removeStaged(ctx, tp, end)
	if err != nil {
		return 0, false, err
	}
	c.mu.Lock()
	c.chains[tp] = end
	c.leftovers[tp] = left
	c.mu.Unlock()
	return end, true, nil
}

// adopt reads the end of a partition that has no chain of claims yet
// from the files already in its directory, topic=T/partition=P/: those
// the files sink published, when a job moves from it to this sink on the
// same directory (or the files were copied to the bucket). They must
// form one chain, as the files sink requires; the first claim then
// starts where they end.
func (c *blobSink) adopt(ctx context.Context, tp runtime.TopicPartition) (int64, bool, error) {
	prefix := fmt.Sprintf("topic=%s/partition=%d/", tp.Topic, tp.Partition)
	var files []published
	err := c.list(ctx, &blob.ListOptions{Prefix: prefix, Delimiter: "/"}, func() { files = files[:0] }, func(o *blob.ListObject) error {
		name := path.Base(o.Key)
		if o.IsDir || strings.HasPrefix(name, "_") || strings.HasPrefix(name, ".") {
			return nil
		}
		if base, isParquet := strings.CutSuffix(name, ".parquet"); isParquet {
			name = base + ".avro" // parseName's suffix; the digits are the same
		}
		from, until, ok := parseName(name)
		if !ok || until <= from {
			return &LayoutError{Topic: tp.Topic, Partition: tp.Partition, Files: []string{o.Key},
				Problem: "an object the sink did not write (published objects are FROM-UNTIL.avro or .parquet, 20 digits each)"}
		}
		files = append(files, published{from: from, until: until, path: o.Key})
		return nil
	})
	if err != nil {
		return 0, false, err
	}
	if len(files) == 0 {
		return 0, false, nil
	}
	slices.SortFunc(files, func(a, b published) int { return cmp.Compare(a.from, b.from) })
	for i := 1; i < len(files); i++ {
		if files[i].from != files[i-1].until {
			return 0, false, &LayoutError{Topic: tp.Topic, Partition: tp.Partition, Files: []string{files[i-1].path, files[i].path},
				Problem: fmt.Sprintf("a gap or an overlap between offsets %d and %d", files[i-1].until, files[i].from)}
		}
	}
	return files[len(files)-1].until, true, nil
}

// removeStaged deletes tp's staging objects of ranges before end, and
// aborts their incomplete multipart uploads: their claims are decided
// (and, being before the chain's end, published), so nothing will copy
// them. Those from end on may belong to a batch in flight and stay; left
// reports whether another instance has any.
func (c *blobSink) removeStaged(ctx context.Context, tp runtime.TopicPartition, end int64) (left bool, err error) {
	prefix := fmt.Sprintf("%s/staged/topic=%s/partition=%d/", internalDir, tp.Topic, tp.Partition)
	// passed says whether key's range is before end; if not, whether
	// another instance's it is sets left.
	passed := func(key string) bool {
		base := path.Base(key)
		if len(base) < 20 {
			return false
		}
		from, err := strconv.ParseInt(base[:20], 10, 64)
		if err != nil {
			return false
		}
		if from >= end {
			// FROM-UNTIL.INSTANCE.N.EXT (see stagedKey), or a driver's
			// temporary file of it (fileblob's NAME.HEX.tmp).
			if f := strings.Split(base, "."); len(f) > 1 && f[1] != c.id {
				left = true
			}
			return false
		}
		return true
	}
	if err := c.abortUploadsUnder(ctx, prefix, passed); err != nil {
		return left, err
	}
	return left, c.list(ctx, &blob.ListOptions{Prefix: prefix}, nil, func(o *blob.ListObject) error {
		if !passed(o.Key) {
			return nil
		}
		return c.remove(ctx, o.Key)
	})
}

// remove deletes key; one already gone is not an error.
func (c *blobSink) remove(ctx context.Context, key string) error {
	if err := c.bucket.Delete(ctx, key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return fmt.Errorf("blob sink: removing %s: %w", key, err)
	}
	return nil
}

// errStopListing, returned by list's each, ends the listing without error.
var errStopListing = errors.New("stop listing")

// list calls each for every object that opts lists, in key order. A
// listing on file:// fails when an entry goes away while it lists
// (fileblob reads each file's information after reading the directory,
// and a concurrent write renames its temporary file, a prune deletes a
// claim); list then lists again from the start, after calling start
// (which may be nil) to forget what each collected. each must allow
// seeing an object again (collecting after start, or deleting, which a
// missing object does not fail). On a directory, where nothing else
// fails a listing with "not found", it tries until the writes pause; on
// other stores, where that means the bucket went away, a few times.
func (c *blobSink) list(ctx context.Context, opts *blob.ListOptions, start func(), each func(*blob.ListObject) error) error {
	tries := 10
	if _, isDir := c.objects.(*dirObjects); isDir {
		tries = 1000
	}
	for try := 1; ; try++ {
		if start != nil {
			start()
		}
		it := c.bucket.List(opts)
		for {
			o, err := it.Next(ctx)
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				if gcerrors.Code(err) == gcerrors.NotFound && try < tries && ctx.Err() == nil {
					break // an entry went away while listing: again
				}
				return fmt.Errorf("blob sink: listing %s: %w", opts.Prefix, err)
			}
			if err := each(o); err != nil {
				if errors.Is(err, errStopListing) {
					return nil
				}
				return err
			}
		}
	}
}

// redact keeps a URL's scheme, host and path for messages: credentials
// may be in its user or query.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Scheme + "://" + u.Host + u.Path
}

// redactedError is an error whose message may quote a URL the sink was
// given (drivers' errors do): its Error leaves the URL's user and query
// out.
type redactedError struct {
	err error
	raw string
}

func (e *redactedError) Error() string {
	return strings.ReplaceAll(e.err.Error(), e.raw, redact(e.raw))
}

func (e *redactedError) Unwrap() error { return e.err }
