package sink

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/streamgen/streamgen/runtime"
)

// Rolling: a file per (Hive bucket, Kafka partition) stays open across
// batches and is published when it is full, when the records' own time
// has passed its time bucket, or when it has been open too long.
//
// Exactly-once does not depend on where files are cut, so it holds for
// every rule, the wall-clock one included: each publish is a claim that
// states the partition's whole stored state,
//
//	restart     the offset a new owner reads from: the first offset of
//	            the oldest file still open (or, with none open, the end
//	            of the last stored batch)
//	watermarks  per bucket, W: every record of the bucket below W is in
//	            a published file (pruned once W <= restart)
//
// so a new owner re-reads from restart and drops the re-read records of
// each bucket below its watermark: what no published file holds is
// written once, what one holds is not written again. The claims are a
// chain numbered 1, 2, ...: a publish takes the next number by
// conditional create, and a replica that gains a partition (Load) takes
// the next number at once (a takeover claim), so a replica that lost the
// partition finds its next number taken and publishes nothing more.
//
// A batch's values are held in memory (as Avro binary) until Store, which
// appends them to the open files: Abort drops them and leaves the open
// files as they were, so the engine's rewind to the batch's start is
// right. A Store that fails after it began appending leaves the open
// files in an unknown state: the partition is broken, the job fails, and
// the restart re-reads from the stored restart offset.

// RollLimits are the rolling blob sink's limits (BlobRoll). A zero limit
// is no limit.
type RollLimits struct {
	// MaxRecords publishes a file once it holds this many records
	// (a record's values are never split across two files).
	MaxRecords int64
	// MaxBytes publishes a file once its values' Avro binary adds up to
	// this many bytes (before compression, so deterministic).
	MaxBytes int64
	// MaxOpen publishes a file open this long (wall time) at the end of
	// the next batch, so quiet partitions still publish and restarts
	// re-read at most about this much.
	MaxOpen time.Duration
	// Lateness is how far past the end of a file's time bucket (with
	// PartitionByTime) the partition's records' time must be before the
	// file is published, so that late records at the bucket's edge join
	// it rather than make a file of their own.
	Lateness time.Duration
	// MaxOpenFiles bounds the files open at once in the sink (each holds
	// an upload buffer and an Avro block or a Parquet row group in
	// memory): past it, the oldest are published at the end of the
	// batch.
	MaxOpenFiles int
}

// BlobRoll makes the sink keep a file per Hive bucket and Kafka
// partition open across batches, published by l's limits (see Blob). The
// handler must give every value's offset (BlobWriter.WriteAt, as
// WriteBlob does): after a restart, the sink drops re-read values by
// offset. Default off: every batch publishes its own objects.
func BlobRoll(l RollLimits) BlobOpt { return func(c *blobCfg) { c.roll = &l } }

// blobClock is the wall clock of MaxOpen (tests advance their own).
func blobClock(now func() time.Time) BlobOpt { return func(c *blobCfg) { c.now = now } }

// blobAfterOwnedCheck runs f in each rolling Store after its ownership
// check (stillOwned) and before it appends: tests take a partition over
// there, to meet the fencing of the publish itself.
func blobAfterOwnedCheck(f func()) BlobOpt { return func(c *blobCfg) { c.ownedHook = f } }

// rollClaim is a rolling claim object's content:
// _streamgen/claims/topic=T/partition=P/roll/SEQ.
type rollClaim struct {
	Seq      int64  `json:"seq"`
	Instance string `json:"instance"`
	// Restart is where the partition's next owner reads from; -1 when
	// no batch was stored yet (the takeover of a fresh partition).
	Restart int64 `json:"restart"`
	// Handled is the end of the last batch stored before the claim.
	Handled int64 `json:"handled"`
	// Watermarks: records of a bucket below its watermark are in
	// published files.
	Watermarks map[string]int64 `json:"watermarks,omitempty"`
	// Objects are the files the claim publishes; none for a takeover.
	Objects  []claimObject `json:"objects,omitempty"`
	Takeover bool          `json:"takeover,omitempty"`
}

func rollDir(tp runtime.TopicPartition) string { return claimDir(tp) + "roll/" }

func rollKey(tp runtime.TopicPartition, seq int64) string {
	return rollDir(tp) + fmt.Sprintf("%020d", seq)
}

func rollStagedDir(tp runtime.TopicPartition) string {
	return fmt.Sprintf("%s/staged/topic=%s/partition=%d/roll-", internalDir, tp.Topic, tp.Partition)
}

// rollPart is a partition this instance owns, rolling.
type rollPart struct {
	tp      runtime.TopicPartition
	seq     int64            // the chain's last claim
	restart int64            // as stored by that claim, -1 none
	marks   map[string]int64 // as stored
	handled int64            // end of the last stored batch, -1 none
	pruned  int64            // the claim before which this instance last pruned the chain
	maxTime time.Time        // latest record time appended
	files   map[string]*rollFile
	closed  []*rollFile // full files, finished, to publish in this Store
	broken  error
	// seen: a batch has had the partition since Load. A batch cut
	// between Load and the consumer adding the partition lacks it
	// without its being revoked; once seen, a batch without it means it
	// was.
	seen bool
	// spare are the arena blocks of the partition's last stored batch,
	// its rows appended (at most spareBlocks, 4 MiB): the next batch's slot
	// holds its values in them.
	spare [][]byte
	// spareRows are the emptied row lists of that batch's buckets.
	spareRows [][]heldRow
}

// rollFile is one open file: a staged object being uploaded.
type rollFile struct {
	bucket      string
	staged      string
	w           *blob.Writer
	cancel      context.CancelFunc
	enc         valueEncoder
	first, last int64
	records     int64
	bytes       int64
	opened      time.Time
	order       int64
	end         time.Time // its time bucket's end, zero without one
	done        bool
}

// rollSlot is one partition's values in the batch in flight, held until
// Store.
type rollSlot struct {
	mu    sync.Mutex
	r     runtime.OffsetRange
	sink  *blobSink
	gen   int
	marks map[string]int64
	rows  map[string]*heldBucket
	// arena is the block the held rows' Avro binary goes to, each row's
	// data a capped slice of it; full are the blocks filled before it,
	// and free the partition's spare blocks, for the next. Blocks are
	// never grown by copying what they hold (a value too large for the
	// room left grows a copy of its block, leaving the rows before in
	// the old array): a batch's values cost no copy however large the
	// batch, and a stored batch's blocks are the next one's.
	arena []byte
	full  [][]byte
	free  [][]byte
	// freeRows are the partition's spare row lists, for new buckets.
	freeRows [][]heldRow
	err      error
	over     bool
	dropped  int64
}

type heldBucket struct {
	end  time.Time
	rows []heldRow
}

type heldRow struct {
	off  int64
	at   time.Time
	data []byte
}

// Arena blocks: arenaBlock bytes each, a new one taken when less than
// arenaRoom is left (few values are larger); a partition keeps at most
// spareBlocks for its next batch.
const (
	arenaBlock  = 256 << 10
	arenaRoom   = 8 << 10
	spareBlocks = 16
)

func (s *rollSlot) reset() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.free = s.blocks() // their rows went with rows
	s.rows, s.arena, s.full, s.err, s.dropped = nil, nil, nil, nil, 0
	s.gen++
	return s.gen
}

// nextBlock starts a new arena block, a spare one if there is one.
func (s *rollSlot) nextBlock() {
	if s.arena != nil {
		s.full = append(s.full, s.arena)
	}
	if n := len(s.free); n > 0 {
		s.arena, s.free = s.free[n-1][:0], s.free[:n-1]
		return
	}
	s.arena = make([]byte, 0, arenaBlock)
}

// blocks are all the slot's arena blocks, emptied: at most spareBlocks
// (the rest are left to the garbage collector). Their rows must be gone.
func (s *rollSlot) blocks() [][]byte {
	all := append(s.free, s.full...)
	if s.arena != nil {
		all = append(all, s.arena)
	}
	all = all[:min(len(all), spareBlocks)]
	for i := range all {
		all[i] = all[i][:0]
	}
	return all
}

func (s *rollSlot) write(gen int, off int64, v any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := writable(s.r, s.over, gen != s.gen, s.err, off); err != nil {
		return err
	}
	if off < 0 {
		s.err = fmt.Errorf("blob sink: writing %s: a rolling sink needs each value's offset (WriteAt), to drop what a restart reads again", s.r)
		return s.err
	}
	if cap(s.arena)-len(s.arena) < arenaRoom {
		s.nextBlock()
	}
	start := len(s.arena)
	arena, err := s.sink.encode(s.arena, v)
	if err != nil {
		s.err = fmt.Errorf("blob sink: %s: %w", s.r, err)
		return s.err
	}
	s.arena = arena
	data := arena[start:len(arena):len(arena)]
	bucket, at, end, err := s.sink.placeOf(data)
	if err != nil {
		s.err = fmt.Errorf("blob sink: %s: %w", s.r, err)
		return s.err
	}
	if w, ok := s.marks[bucket]; ok && off < w {
		s.arena = s.arena[:start]
		s.dropped++ // published before a restart
		return nil
	}
	if s.rows == nil {
		s.rows = map[string]*heldBucket{}
	}
	h := s.rows[bucket]
	if h == nil {
		h = &heldBucket{end: end}
		if n := len(s.freeRows); n > 0 {
			h.rows, s.freeRows = s.freeRows[n-1], s.freeRows[:n-1]
		}
		s.rows[bucket] = h
	}
	h.rows = append(h.rows, heldRow{off: off, at: at, data: data})
	return nil
}

// placeOf is the bucket, time and time bucket's end of a value's Avro
// binary b.
func (c *blobSink) placeOf(b []byte) (string, time.Time, time.Time, error) {
	if c.part == nil {
		return "", time.Time{}, time.Time{}, nil
	}
	bucket, at, end, err := c.part.bucketAt(b)
	if err != nil {
		return "", at, end, fmt.Errorf("a value's partition: %w", err)
	}
	return bucket, at, end, nil
}

func (c *blobSink) rollBegin(ctx context.Context, b runtime.StoredBatch) error {
	c.rollMu.Lock()
	defer c.rollMu.Unlock()
	defer c.updateStats(c.cfg.now())
	owned := map[runtime.TopicPartition]bool{}
	for _, r := range b.Ranges {
		owned[r.TopicPartition()] = true
	}
	var errs []error
	// A partition the batch does not have was revoked: its open files
	// are not published; its next owner reads them again.
	for tp, p := range c.rolls {
		if owned[tp] {
			p.seen = true
		} else if p.seen {
			errs = append(errs, c.discardPart(ctx, p))
			delete(c.rolls, tp)
		}
	}
	cur := make(map[runtime.TopicPartition]*rollSlot)
	for _, r := range b.Ranges {
		tp := r.TopicPartition()
		if cur[tp] != nil {
			return fmt.Errorf("blob sink: batch %d holds topic %s partition %d twice", b.ID, tp.Topic, tp.Partition)
		}
		if r.Count() == 0 {
			continue
		}
		s := &rollSlot{r: r, sink: c}
		if p := c.rolls[tp]; p != nil {
			s.marks = maps.Clone(p.marks)
			s.free, p.spare = p.spare, nil
			s.freeRows, p.spareRows = p.spareRows, nil
		}
		cur[tp] = s
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errors.New("blob sink: the sink is closed")
	}
	old := c.rcur
	c.rcur = cur
	c.mu.Unlock()
	overSlots(old)
	return errors.Join(errs...)
}

func overSlots(slots map[runtime.TopicPartition]*rollSlot) {
	for _, s := range slots {
		s.mu.Lock()
		s.over, s.rows = true, nil
		s.mu.Unlock()
	}
}

func (c *blobSink) rollAbort(ctx context.Context) error {
	c.rollMu.Lock()
	defer c.rollMu.Unlock()
	defer c.updateStats(c.cfg.now())
	c.mu.Lock()
	cur := c.rcur
	c.rcur = nil
	c.mu.Unlock()
	overSlots(cur)
	// A partition whose Store failed midway has open files in an unknown
	// state: they go, and the partition stays broken until it is loaded
	// again (the job fails and restarts).
	var errs []error
	for _, p := range c.rolls {
		if p.broken != nil {
			errs = append(errs, c.discardPart(ctx, p))
		}
	}
	return errors.Join(errs...)
}

func (c *blobSink) rollStore(ctx context.Context, b runtime.StoredBatch) error {
	c.rollMu.Lock()
	defer c.rollMu.Unlock()
	c.mu.Lock()
	cur := c.rcur
	c.mu.Unlock()
	var slots []*rollSlot
	for _, r := range b.Ranges {
		if r.Count() == 0 {
			continue
		}
		s := cur[r.TopicPartition()]
		if s == nil || s.r != r {
			return notBegun("blob", b, r)
		}
		p := c.rolls[r.TopicPartition()]
		if p == nil {
			return fmt.Errorf("blob sink: batch %d: %s: the partition was not loaded from this sink (is it the job's offset store?)", b.ID, r)
		}
		if p.broken != nil {
			return fmt.Errorf("blob sink: batch %d: %s: an earlier Store failed midway (%w); the partition must be loaded again", b.ID, r, p.broken)
		}
		s.mu.Lock()
		err := s.err
		s.mu.Unlock()
		if err != nil { // nothing appended yet: Abort keeps the open files
			return err
		}
		slots = append(slots, s)
	}
	slices.SortFunc(slots, func(a, b *rollSlot) int {
		return cmp.Or(cmp.Compare(a.r.Topic, b.r.Topic), cmp.Compare(a.r.Partition, b.r.Partition))
	})
	if err := c.stillOwned(ctx, slots, b); err != nil {
		return err
	}
	if c.cfg.ownedHook != nil {
		c.cfg.ownedHook()
	}
	now := c.cfg.now()
	defer c.updateStats(now)
	if err := c.appendSlots(ctx, slots, now, b); err != nil {
		return err
	}
	overSlots(cur)
	c.mu.Lock()
	if maps.EqualFunc(c.rcur, cur, func(a, b *rollSlot) bool { return a == b }) {
		c.rcur = nil
	}
	c.mu.Unlock()

	return c.publishParts(ctx, c.dueFiles(now), b)
}

// publishParts publishes each partition's files in due, the partitions
// in parallel: each has its own claim chain, and at an hour's edge every
// partition closes its hour's file in the same batch, so one at a time
// the batch would wait for a partition's round trips (upload, claim,
// head, clean-up) times the partitions. A partition that fails is
// broken or, fenced, dropped (fenced's delete is the only write to
// c.rolls meanwhile, under rollsMu); the others are published.
func (c *blobSink) publishParts(ctx context.Context, due map[runtime.TopicPartition][]*rollFile, b runtime.StoredBatch) error {
	tps := slices.SortedFunc(maps.Keys(due), compareTPs)
	parts := make([]*rollPart, len(tps))
	for i, tp := range tps {
		parts[i] = c.rolls[tp]
	}
	return each(len(parts), func(i int) error { return c.publishPart(ctx, parts[i], due[tps[i]], b) })
}

func compareTPs(a, b runtime.TopicPartition) int {
	return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
}

// stillOwned fails the batch, before anything is appended, when another
// instance has taken one of its partitions (the next claim of its chain
// exists): a Store that publishes nothing would not meet the takeover
// claim, so a replica that lost its partitions while frozen would go on
// filling open files it can never publish. One existence check per
// partition per batch, in parallel; a takeover after it is met by the
// next publish's conditional create.
func (c *blobSink) stillOwned(ctx context.Context, slots []*rollSlot, b runtime.StoredBatch) error {
	taken := make([]bool, len(slots))
	parts := make([]*rollPart, len(slots))
	for i, s := range slots {
		parts[i] = c.rolls[s.r.TopicPartition()]
	}
	err := each(len(parts), func(i int) (err error) {
		key := rollKey(parts[i].tp, parts[i].seq+1)
		if taken[i], err = c.bucket.Exists(ctx, key); err != nil {
			return fmt.Errorf("blob sink: batch %d: reading %s: %w", b.ID, key, err)
		}
		return nil
	})
	for i, p := range parts {
		if taken[i] {
			return c.fenced(ctx, p, p.seq+1, b)
		}
	}
	return err
}

// appendSlots appends each partition's held values to its open files,
// the partitions in parallel (each encodes its own files, as the tasks of
// a per-batch sink do), and records how far each was handled. A partition
// whose append failed is broken, or dropped as fenced when another
// instance has taken it meanwhile; the batch then fails.
func (c *blobSink) appendSlots(ctx context.Context, slots []*rollSlot, now time.Time, b runtime.StoredBatch) error {
	errs := make([]error, len(slots))
	limit := make(chan struct{}, max(goruntime.GOMAXPROCS(0), 1))
	var wg sync.WaitGroup
	for i, s := range slots {
		p := c.rolls[s.r.TopicPartition()]
		wg.Go(func() {
			limit <- struct{}{}
			defer func() { <-limit }()
			errs[i] = c.appendSlot(p, s, now)
		})
	}
	wg.Wait()
	var failed []error
	for i, s := range slots {
		p := c.rolls[s.r.TopicPartition()]
		if err := errs[i]; err != nil {
			if _, cerr := c.readRollClaim(ctx, p.tp, p.seq+1); cerr == nil {
				err = c.fenced(ctx, p, p.seq+1, b) // the new owner removed its staged objects
			} else {
				p.broken = err
			}
			failed = append(failed, err)
			continue
		}
		p.handled = s.r.UntilOffset
		c.stats.dropped.Add(s.dropped)
		// The rows are in the files now (encoders copy a value's
		// binary): the slot is over and its arena is the next batch's.
		s.mu.Lock()
		p.spareRows = s.freeRows
		for _, h := range s.rows {
			if len(p.spareRows) < spareBlocks {
				clear(h.rows) // their data is in the blocks, spare too
				p.spareRows = append(p.spareRows, h.rows[:0])
			}
		}
		s.over, s.rows, s.freeRows = true, nil, nil
		p.spare = s.blocks()
		s.arena, s.full, s.free = nil, nil, nil
		s.mu.Unlock()
	}
	if err := errors.Join(failed...); err != nil {
		// The batch fails with the others' values appended: a read of it
		// again would append them twice, so they are broken too.
		for _, s := range slots {
			if p := c.rolls[s.r.TopicPartition()]; p != nil && p.broken == nil {
				p.broken = fmt.Errorf("blob sink: batch %d failed after %s was appended: %w", b.ID, s.r, err)
			}
		}
		return err
	}
	return nil
}

// appendSlot appends a batch's held values to the partition's open
// files, bucket by bucket in offset order, finishing a full file before
// a value of another offset (so a record's values share a file).
func (c *blobSink) appendSlot(p *rollPart, s *rollSlot, now time.Time) error {
	lim := c.cfg.roll
	for _, bucket := range slices.Sorted(maps.Keys(s.rows)) {
		h := s.rows[bucket]
		slices.SortStableFunc(h.rows, func(a, b heldRow) int { return cmp.Compare(a.off, b.off) })
		for _, row := range h.rows {
			f := p.files[bucket]
			if f != nil && row.off != f.last && ((lim.MaxRecords > 0 && f.records >= lim.MaxRecords) || (lim.MaxBytes > 0 && f.bytes >= lim.MaxBytes)) {
				if err := c.finishFile(f); err != nil {
					return err
				}
				delete(p.files, bucket)
				p.closed = append(p.closed, f)
				f = nil
			}
			if f == nil {
				var err error
				if f, err = c.openFile(p, bucket, row.off, h.end, now); err != nil {
					return err
				}
			}
			if err := f.enc.writeAvro(row.data); err != nil {
				return fmt.Errorf("blob sink: writing %s for topic %s partition %d offset %d: %w", f.staged, p.tp.Topic, p.tp.Partition, row.off, err)
			}
			f.records++
			f.bytes += int64(len(row.data))
			f.last = row.off
			if row.at.After(p.maxTime) {
				p.maxTime = row.at
			}
		}
	}
	return nil
}

func (c *blobSink) openFile(p *rollPart, bucket string, first int64, end, now time.Time) (*rollFile, error) {
	seq := c.fileSeq.Add(1)
	f := &rollFile{bucket: bucket, first: first, last: first, opened: now, order: seq, end: end}
	f.staged = fmt.Sprintf("%s%020d.%s.%d.%s", rollStagedDir(p.tp), first, c.id, seq, c.ext)
	ctx, cancel := context.WithCancel(context.Background())
	w, err := c.bucket.NewWriter(ctx, f.staged, &blob.WriterOptions{ContentType: "application/octet-stream", BufferSize: c.cfg.upload})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("blob sink: writing %s: %w", f.staged, err)
	}
	f.w, f.cancel = w, cancel
	r := runtime.OffsetRange{Topic: p.tp.Topic, Partition: p.tp.Partition, FromOffset: first, UntilOffset: first}
	if f.enc, err = c.newEnc(w, r); err != nil {
		cancel()
		_ = w.Close()
		return nil, fmt.Errorf("blob sink: writing %s: %w", f.staged, err)
	}
	if p.files == nil {
		p.files = map[string]*rollFile{}
	}
	p.files[bucket] = f
	return f, nil
}

// finishFile completes a file's staged object.
func (c *blobSink) finishFile(f *rollFile) error {
	if f.done {
		return nil
	}
	if su, ok := f.enc.(interface{ setUntil(int64) }); ok {
		su.setUntil(f.last + 1)
	}
	err := f.enc.close()
	if cerr := f.w.Close(); err == nil {
		err = cerr
	}
	f.w = nil
	f.cancel()
	if err != nil {
		return fmt.Errorf("blob sink: writing %s: %w", f.staged, err)
	}
	f.done = true
	return nil
}

// abandon aborts a file's upload, or deletes its finished staged object.
func (c *blobSink) abandon(ctx context.Context, f *rollFile) error {
	if f.w != nil {
		f.cancel() // a cancelled writer's Close ends the upload
		_ = f.w.Close()
		f.w = nil
		return c.abortUploads(ctx, f.staged)
	}
	if err := c.bucket.Delete(ctx, f.staged); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return fmt.Errorf("blob sink: removing the unpublished %s: %w", f.staged, err)
	}
	return nil
}

// discardPart drops a partition's open files unpublished.
func (c *blobSink) discardPart(ctx context.Context, p *rollPart) error {
	var errs []error
	for _, f := range p.files {
		errs = append(errs, c.abandon(ctx, f))
	}
	for _, f := range p.closed {
		errs = append(errs, c.abandon(ctx, f))
	}
	p.files, p.closed = nil, nil
	return errors.Join(errs...)
}

// dueFiles are the files to publish now, by partition: the full ones,
// those whose time bucket the records' time has passed by the lateness,
// those open for MaxOpen, and the oldest past MaxOpenFiles.
func (c *blobSink) dueFiles(now time.Time) map[runtime.TopicPartition][]*rollFile {
	lim := c.cfg.roll
	due := map[runtime.TopicPartition][]*rollFile{}
	var rest []*rollFile
	restOf := map[*rollFile]runtime.TopicPartition{}
	for tp, p := range c.rolls {
		if p.broken != nil {
			continue
		}
		due[tp] = append(due[tp], p.closed...)
		for _, f := range p.files {
			switch {
			case lim.MaxRecords > 0 && f.records >= lim.MaxRecords,
				lim.MaxBytes > 0 && f.bytes >= lim.MaxBytes,
				!f.end.IsZero() && !p.maxTime.Before(f.end.Add(lim.Lateness)),
				lim.MaxOpen > 0 && now.Sub(f.opened) >= lim.MaxOpen:
				due[tp] = append(due[tp], f)
			default:
				rest = append(rest, f)
				restOf[f] = tp
			}
		}
		if len(due[tp]) == 0 {
			delete(due, tp)
		}
	}
	if lim.MaxOpenFiles > 0 && len(rest) > lim.MaxOpenFiles {
		slices.SortFunc(rest, func(a, b *rollFile) int { return cmp.Compare(a.order, b.order) })
		for _, f := range rest[:len(rest)-lim.MaxOpenFiles] {
			due[restOf[f]] = append(due[restOf[f]], f)
		}
	}
	return due
}

// publishPart publishes files of p with one claim: the next of the
// partition's chain, stating its new restart offset and watermarks.
func (c *blobSink) publishPart(ctx context.Context, p *rollPart, files []*rollFile, b runtime.StoredBatch) (err error) {
	defer func() {
		var fe *runtime.FencedError
		if err != nil && !errors.As(err, &fe) {
			p.broken = err
		}
	}()
	pub := map[*rollFile]bool{}
	for _, f := range files {
		pub[f] = true
		if err := c.finishDurably(ctx, p, f, b); err != nil {
			return err
		}
	}
	open := map[string]*rollFile{}
	restart := p.handled
	for bucket, f := range p.files {
		if !pub[f] {
			open[bucket] = f
			restart = min(restart, f.first)
		}
	}
	marks := maps.Clone(p.marks)
	if marks == nil {
		marks = map[string]int64{}
	}
	var objs []claimObject
	for _, f := range files {
		// Every record of the bucket below w is published: this file's,
		// earlier files', and none of the bucket's came after it but
		// those in its open file.
		w := p.handled
		if o := open[f.bucket]; o != nil {
			w = o.first
		}
		marks[f.bucket] = max(marks[f.bucket], w)
		r := runtime.OffsetRange{Topic: p.tp.Topic, Partition: p.tp.Partition, FromOffset: f.first, UntilOffset: f.last + 1}
		objs = append(objs, claimObject{Key: c.dataKey(r, f.bucket), Staged: f.staged})
	}
	maps.DeleteFunc(marks, func(_ string, w int64) bool { return w <= restart })
	slices.SortFunc(objs, func(a, b claimObject) int { return strings.Compare(a.Key, b.Key) })
	rec := rollClaim{Seq: p.seq + 1, Instance: c.id, Restart: restart, Handled: p.handled, Watermarks: marks, Objects: objs}
	if err := c.claimRoll(ctx, p, rec, b); err != nil {
		return err
	}
	p.seq, p.restart, p.marks = rec.Seq, rec.Restart, marks
	p.closed = nil
	for bucket, f := range p.files {
		if pub[f] {
			delete(p.files, bucket)
		}
	}
	if err := c.publishClaim(ctx, claimRecord{Objects: objs}, false); err != nil {
		return fmt.Errorf("blob sink: publishing topic %s partition %d claim %d: %w", p.tp.Topic, p.tp.Partition, rec.Seq, err)
	}
	c.stats.published.Add(int64(len(objs)))
	// The head is a hint for Load; staged objects are leftovers.
	_ = c.bucket.WriteAll(ctx, rollDir(p.tp)+"head", []byte(strconv.FormatInt(rec.Seq, 10)), nil)
	for _, o := range objs {
		_ = c.bucket.Delete(ctx, o.Staged)
	}
	if p.seq-p.pruned >= pruneKeep+pruneEvery {
		p.pruned = p.seq - pruneKeep + 1
		c.prune(p.tp, rollDir(p.tp), p.pruned, func(seq int64) bool { return seq == 1 })
	}
	return nil
}

// claimRoll makes rec, p's next claim, by conditional create: a key
// already taken is this instance's own claim whose response was lost
// (madeIt), or another instance's, which fences p; so is a claim the
// chain passed and pruned meanwhile.
func (c *blobSink) claimRoll(ctx context.Context, p *rollPart, rec rollClaim, b runtime.StoredBatch) error {
	data, _ := json.Marshal(rec)
	won, err := c.objects.create(ctx, rollKey(p.tp, rec.Seq), data)
	if err == nil && !won {
		won, err = c.madeIt(ctx, rollKey(p.tp, rec.Seq), data)
	}
	if err != nil {
		return fmt.Errorf("blob sink: claiming topic %s partition %d claim %d: %w", p.tp.Topic, p.tp.Partition, rec.Seq, err)
	}
	if !won {
		// Another instance took the partition (a takeover claim) or
		// published into it: this one owns it no more.
		return c.fenced(ctx, p, rec.Seq, b)
	}
	if stale, err := c.passedFloor(ctx, rollDir(p.tp), rec.Seq); err != nil {
		return fmt.Errorf("blob sink: claiming topic %s partition %d claim %d: %w", p.tp.Topic, p.tp.Partition, rec.Seq, err)
	} else if stale {
		// The chain had passed rec.Seq and pruned its claim: as !won.
		return c.fenced(ctx, p, rec.Seq, b)
	}
	return nil
}

// finishDurably ends file f of p and makes its staged object durable, or
// is the error that kept it from that: p's fencing, when a new owner's
// Load has removed the staged objects of the instance it took p from.
func (c *blobSink) finishDurably(ctx context.Context, p *rollPart, f *rollFile, b runtime.StoredBatch) error {
	err := c.finishFile(f)
	if err == nil {
		if err = c.objects.durable(ctx, f.staged); err != nil {
			err = fmt.Errorf("blob sink: %s: %w", f.staged, err)
		}
	}
	if err != nil {
		if _, cerr := c.readRollClaim(ctx, p.tp, p.seq+1); cerr == nil {
			return c.fenced(ctx, p, p.seq+1, b)
		}
	}
	return err
}

// fenced drops p, whose claim seq another instance made, and says so.
func (c *blobSink) fenced(ctx context.Context, p *rollPart, seq int64, b runtime.StoredBatch) error {
	stored := int64(-1)
	if held, err := c.readRollClaim(ctx, p.tp, seq); err == nil {
		stored = held.Restart
	}
	r := runtime.OffsetRange{Topic: p.tp.Topic, Partition: p.tp.Partition, FromOffset: p.restart, UntilOffset: p.handled}
	for _, br := range b.Ranges {
		if br.TopicPartition() == p.tp {
			r = br
		}
	}
	_ = c.discardPart(ctx, p)
	c.rollsMu.Lock()
	delete(c.rolls, p.tp)
	c.rollsMu.Unlock()
	return &runtime.FencedError{Range: r, Stored: stored, Store: "blob sink",
		Why: fmt.Sprintf("topic %s partition %d: claim %d of its chain was made by another instance, which owns the partition now; none of this instance's open files of it were published", p.tp.Topic, p.tp.Partition, seq)}
}

// madeIt says whether key, which a conditional create found taken, holds
// data, this instance's claim (which names its instance): whether the
// create was this very attempt's, made by the store although the client
// heard of it only as taken, because its response was lost and its retry
// refused (GCS's client retries a create with ifGenerationMatch=0 as
// idempotent; the AWS SDK retries a PUT on a 5xx). Taking it for a fence
// would remove the staged files that the claim, on the chain now, names.
func (c *blobSink) madeIt(ctx context.Context, key string, data []byte) (bool, error) {
	held, err := c.bucket.ReadAll(ctx, key)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return false, nil // pruned: passedFloor fences it
	}
	if err != nil {
		return false, fmt.Errorf("reading %s, which a conditional create found taken: %w", key, err)
	}
	return bytes.Equal(held, data), nil
}

func (c *blobSink) readRollClaim(ctx context.Context, tp runtime.TopicPartition, seq int64) (rollClaim, error) {
	var rec rollClaim
	data, err := c.bucket.ReadAll(ctx, rollKey(tp, seq))
	if gcerrors.Code(err) == gcerrors.NotFound {
		return rec, errNoObject
	}
	if err != nil {
		return rec, fmt.Errorf("blob sink: reading claim %d of topic %s partition %d: %w", seq, tp.Topic, tp.Partition, err)
	}
	if err := json.Unmarshal(data, &rec); err != nil || rec.Seq != seq {
		return rec, &LayoutError{Topic: tp.Topic, Partition: tp.Partition, Files: []string{rollKey(tp, seq)},
			Problem: fmt.Sprintf("a rolling claim the sink did not write (want JSON with seq %d)", seq)}
	}
	return rec, nil
}

// rollFollow reads tp's rolling chain from its head hint to its end,
// publishing on the way (with roll) the objects of claims whose
// instance died before it did. ok is false without a chain.
func (c *blobSink) rollFollow(ctx context.Context, tp runtime.TopicPartition, roll bool) (last rollClaim, ok bool, err error) {
	seq, hinted, err := c.readOffset(ctx, rollDir(tp)+"head")
	if err != nil {
		return last, false, err
	}
	if !hinted || seq < 1 {
		seq, hinted = 1, false
	}
	// Not before the greatest prune marker: the claims before it may be
	// gone.
	if seq, hinted, err = c.startAt(ctx, rollDir(tp), seq, hinted); err != nil {
		return last, false, err
	}
	again := true
	for ; ; seq++ {
		rec, err := c.readRollClaim(ctx, tp, seq)
		if errors.Is(err, errNoObject) {
			if !ok && seq > 1 && again {
				// A head hint past the chain (cannot be), or a marker's
				// claim pruned meanwhile: read from the greatest marker
				// now, or the start.
				again = false
				if seq, _, err = c.startAt(ctx, rollDir(tp), 1, false); err != nil {
					return last, false, err
				}
				seq--
				continue
			}
			return last, ok, nil
		}
		if err != nil {
			return last, false, err
		}
		if roll && len(rec.Objects) > 0 {
			if err := c.publishClaim(ctx, claimRecord{Objects: rec.Objects}, true); err != nil {
				return last, false, fmt.Errorf("blob sink: topic %s partition %d: publishing the objects of claim %d: %w", tp.Topic, tp.Partition, seq, err)
			}
		}
		last, ok = rec, true
	}
}

// rollLoad is Load of a rolling sink: it follows the partition's chain,
// completes the claims of instances that died before publishing, and
// takes the partition over with a claim of its own, which fences the
// instance that had it. A partition without a rolling chain goes on
// where a per-batch chain (or a files sink's files) ended.
func (c *blobSink) rollLoad(ctx context.Context, tp runtime.TopicPartition) (int64, bool, error) {
	c.rollMu.Lock()
	defer c.rollMu.Unlock()
	var errs []error
	if p := c.rolls[tp]; p != nil { // gained again: what it had open may be another's now
		errs = append(errs, c.discardPart(ctx, p))
		delete(c.rolls, tp)
	}
	last, ok, err := c.rollFollow(ctx, tp, true)
	if err != nil {
		return 0, false, err
	}
	if !ok {
		last = rollClaim{Restart: -1}
		end, legacy, err := c.load(ctx, tp)
		if err != nil {
			return 0, false, err
		}
		if legacy {
			last.Restart = end
		}
	}
	for tries := 0; ; tries++ {
		rec := rollClaim{Seq: last.Seq + 1, Instance: c.id, Restart: last.Restart, Handled: last.Restart,
			Watermarks: last.Watermarks, Takeover: true}
		data, _ := json.Marshal(rec)
		won, err := c.objects.create(ctx, rollKey(tp, rec.Seq), data)
		if err != nil {
			return 0, false, fmt.Errorf("blob sink: taking topic %s partition %d over: %w", tp.Topic, tp.Partition, err)
		}
		if won {
			stale, err := c.passedFloor(ctx, rollDir(tp), rec.Seq)
			if err != nil {
				return 0, false, fmt.Errorf("blob sink: taking topic %s partition %d over: %w", tp.Topic, tp.Partition, err)
			}
			if !stale {
				last = rec
				break
			}
			// The chain had passed rec.Seq and pruned its claim: as lost.
		}
		if tries >= 100 {
			return 0, false, fmt.Errorf("blob sink: taking topic %s partition %d over: other instances kept claiming it", tp.Topic, tp.Partition)
		}
		// Another instance claimed meanwhile: read on, and try after it.
		next, _, err := c.rollFollow(ctx, tp, true)
		if err != nil {
			return 0, false, err
		}
		last = next
	}
	_ = c.bucket.WriteAll(ctx, rollDir(tp)+"head", []byte(strconv.FormatInt(last.Seq, 10)), nil)
	// Every claim to this one is published, and no other instance can
	// claim now: every staged rolling object of the partition is a
	// leftover.
	if err := c.removeRollStaged(ctx, tp); err != nil {
		return 0, false, err
	}
	c.rolls[tp] = &rollPart{tp: tp, seq: last.Seq, restart: last.Restart, marks: last.Watermarks, handled: last.Restart}
	c.updateStats(c.cfg.now())
	if err := errors.Join(errs...); err != nil {
		return 0, false, err
	}
	return last.Restart, last.Restart >= 0, nil
}

func (c *blobSink) removeRollStaged(ctx context.Context, tp runtime.TopicPartition) error {
	prefix := rollStagedDir(tp)
	if err := c.abortUploadsUnder(ctx, prefix, func(string) bool { return true }); err != nil {
		return err
	}
	return c.list(ctx, &blob.ListOptions{Prefix: prefix}, nil, func(o *blob.ListObject) error {
		return c.remove(ctx, o.Key)
	})
}

// rolling reports whether tp has a rolling chain, which a per-batch sink
// must not continue (its chain's end is not where the partition is).
func (c *blobSink) rolling(ctx context.Context, tp runtime.TopicPartition) (bool, error) {
	ok, err := c.bucket.Exists(ctx, rollKey(tp, 1))
	if err != nil {
		return false, fmt.Errorf("blob sink: reading %s: %w", rollKey(tp, 1), err)
	}
	return ok, nil
}

// peekRestart is where tp's next owner would start, read without taking
// the partition over: for tests and tools that watch a running job.
func (c *blobSink) peekRestart(ctx context.Context, tp runtime.TopicPartition) (int64, bool, error) {
	last, ok, err := c.rollFollow(ctx, tp, false)
	if err != nil || !ok || last.Restart < 0 {
		return 0, false, err
	}
	return last.Restart, true, nil
}

type rollCounters struct {
	mu                 sync.Mutex
	snap               runtime.OpenFiles
	oldest             time.Time
	published, dropped atomic.Int64
}

// updateStats snapshots the open files; called with rollMu held.
func (c *blobSink) updateStats(now time.Time) {
	var st runtime.OpenFiles
	var oldest time.Time
	for _, p := range c.rolls {
		for _, f := range p.files {
			st.Files++
			st.Bytes += f.bytes
			if oldest.IsZero() || f.opened.Before(oldest) {
				oldest = f.opened
			}
		}
	}
	c.stats.mu.Lock()
	c.stats.snap, c.stats.oldest = st, oldest
	c.stats.mu.Unlock()
}

// OpenFiles reports the files the sink keeps open across batches, for
// the status page and /metrics (runtime.OpenFilesReporter); all zero
// when it does not roll.
func (s *Blob[T, PT]) OpenFiles() runtime.OpenFiles {
	c := s.core
	c.stats.mu.Lock()
	st, oldest := c.stats.snap, c.stats.oldest
	c.stats.mu.Unlock()
	if !oldest.IsZero() {
		st.Oldest = max(c.cfg.now().Sub(oldest), 0)
	}
	st.Published, st.Dropped = c.stats.published.Load(), c.stats.dropped.Load()
	return st
}

// rollDrain publishes every open file of every partition, each
// partition's with one claim that moves its restart offset to the end of
// its last stored batch: the engine's graceful stop (runtime.Drainer).
// It is a publish as MaxOpen's at a batch's end, fenced the same way: a
// partition another instance has taken is dropped with a FencedError.
func (c *blobSink) rollDrain(ctx context.Context) error {
	c.rollMu.Lock()
	defer c.rollMu.Unlock()
	defer c.updateStats(c.cfg.now())
	due := map[runtime.TopicPartition][]*rollFile{}
	for tp, p := range c.rolls {
		if p.broken != nil || len(p.files)+len(p.closed) == 0 {
			continue
		}
		files := slices.Clone(p.closed)
		for _, bucket := range slices.Sorted(maps.Keys(p.files)) {
			files = append(files, p.files[bucket])
		}
		due[tp] = files
	}
	return c.publishParts(ctx, due, runtime.StoredBatch{})
}

// rollClose discards every open file: what Drain did not publish, the
// next owner reads again.
func (c *blobSink) rollClose(ctx context.Context) error {
	c.rollMu.Lock()
	defer c.rollMu.Unlock()
	var errs []error
	for tp, p := range c.rolls {
		errs = append(errs, c.discardPart(ctx, p))
		delete(c.rolls, tp)
	}
	c.updateStats(c.cfg.now())
	return errors.Join(errs...)
}
