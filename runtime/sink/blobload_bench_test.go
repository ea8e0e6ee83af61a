package sink

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/streamgen/streamgen/runtime"
)

// BenchmarkBlobLoad100kObjects is a blob sink's recovery over a bucket
// that already holds 100,000 published objects (8 partitions of 12,500
// batches): from opening the sink, through Load of every partition, to
// the first batch stored (a batch of 10 records per partition), which is
// what a restarted job waits for before its first batch is handled (its
// Kafka client's start is not in it). Load follows each partition's
// chain from its head hint, so it should not depend on the number of
// objects: "claims=pruned" is a bucket this sink wrote (the last claims
// and a prune marker), "claims=all" one a sink that did not prune wrote
// (a claim per object). The bucket is a file:// directory, built once by
// writing its files directly and kept under os.TempDir (see
// blobLoadFill), so runs after the first take seconds; each iteration
// works on a copy of it made of hard links.
//
//	go test -run '^$' -bench BlobLoad100k -benchtime 5x ./runtime/sink
func BenchmarkBlobLoad100kObjects(b *testing.B) {
	const parts, perPart = 8, 12_500
	for _, pruned := range []bool{true, false} {
		name := "claims=all"
		if pruned {
			name = "claims=pruned"
		}
		b.Run(name, func(b *testing.B) {
			src := blobLoadFill(b, parts, perPart, pruned)
			var tps []runtime.TopicPartition
			for p := range int32(parts) {
				tps = append(tps, runtime.TopicPartition{Topic: "imps", Partition: p})
			}
			ctx := context.Background()
			end := int64(perPart * 10)
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				dir := linkTree(b, src)
				b.StartTimer()
				s, err := OpenBlob[impressionType](ctx, "file://"+dir)
				if err != nil {
					b.Fatal(err)
				}
				got, err := s.Load(ctx, tps)
				if err != nil {
					b.Fatal(err)
				}
				batch := runtime.StoredBatch{ID: 1, Time: time.Now()}
				for _, tp := range tps {
					if got[tp] != end {
						b.Fatalf("Load = %v, want %d for every partition", got, end)
					}
					batch.Ranges = append(batch.Ranges, rng(tp.Topic, tp.Partition, end, end+10))
				}
				if err := s.Begin(ctx, batch); err != nil {
					b.Fatal(err)
				}
				for _, r := range batch.Ranges {
					w := s.Writer(r)
					for o := r.FromOffset; o < r.UntilOffset; o++ {
						v := impression(o)
						if err := w.WriteAt(o, &v); err != nil {
							b.Fatal(err)
						}
					}
				}
				if err := s.Store(ctx, batch); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				s.Close()
				if err := os.RemoveAll(dir); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// blobLoadFill returns a directory laid out as the blob sink leaves it
// after perPart batches of 10 records in each of parts partitions of
// topic imps: the published objects (a few bytes each: Load never reads
// them), the claims (all, or as pruning leaves them) and each chain's
// start and head. It is built once, under os.TempDir, named by its
// shape and a version to bump when the layout changes.
func blobLoadFill(b *testing.B, parts, perPart int, pruned bool) string {
	b.Helper()
	const version = 1
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("streamgen-blobload-v%d-%dx%d-pruned=%t", version, parts, perPart, pruned))
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return dir
	}
	if err := os.RemoveAll(dir); err != nil {
		b.Fatal(err)
	}
	write := func(key string, data []byte) {
		p := filepath.Join(dir, filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for p := range int32(parts) {
		tp := runtime.TopicPartition{Topic: "imps", Partition: p}
		for i := range perPart {
			from := int64(i) * 10
			key := fmt.Sprintf("topic=imps/partition=%d/%020d-%020d.avro", p, from, from+10)
			write(key, []byte("Obj\x01"))
			if pruned && i < perPart-pruneKeep {
				continue
			}
			staged := fmt.Sprintf("%s/staged/topic=imps/partition=%d/%020d-%020d.0123456789abcdef.1.avro", internalDir, p, from, from+10)
			rec, _ := json.Marshal(claimRecord{Until: from + 10, Instance: "0123456789abcdef", Objects: []claimObject{{Key: key, Staged: staged}}})
			write(claimKey(tp, from), rec)
		}
		last := int64(perPart-1) * 10
		write(claimDir(tp)+"start", []byte("0"))
		write(claimDir(tp)+"head", []byte(fmt.Sprint(last)))
		if pruned {
			m := int64(perPart-pruneKeep) * 10
			write(prunedDir(claimDir(tp))+fmt.Sprintf("%020d", m), []byte(fmt.Sprint(m)))
		}
	}
	write(".complete", nil)
	return dir
}

// linkTree makes a copy of src's files, as hard links, in a new
// temporary directory: the sink replaces files rather than writing into
// them, so the copy's changes leave src as it is.
func linkTree(b *testing.B, src string) string {
	b.Helper()
	dst, err := os.MkdirTemp("", "streamgen-blobload-run-")
	if err != nil {
		b.Fatal(err)
	}
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == ".complete" {
			return nil
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		return os.Link(p, filepath.Join(dst, rel))
	})
	if err != nil {
		b.Fatal(err)
	}
	return dst
}
