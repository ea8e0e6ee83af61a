package cloud_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/streamgen/streamgen/internal/s3test"
	"github.com/streamgen/streamgen/runtime"
)

// BenchmarkBlobLoad100kObjectsS3 is BenchmarkBlobLoad100kObjects (package
// sink) on s3://, against versitygw: opening the sink, Load of 8
// partitions and the first batch stored, over a bucket holding 100,000
// published objects (12,500 batches a partition) and their claims, all
// of them ("claims=all") or the last 16 and a prune marker
// ("claims=pruned"). Filling a bucket through the S3 API would take
// minutes, so the files are laid out once under os.TempDir and each
// iteration's bucket, in versitygw's posix directory, is a copy of them
// made of hard links (the sink never reads a published object, so their
// contents and metadata do not matter).
//
//	go test -run '^$' -bench BlobLoad100kObjectsS3 -benchtime 5x ./runtime/sink/cloud
func BenchmarkBlobLoad100kObjectsS3(b *testing.B) {
	const parts, perPart, keep = 8, 12_500, 16
	srv := s3test.Start(b)
	for _, pruned := range []bool{true, false} {
		name := "claims=all"
		if pruned {
			name = "claims=pruned"
		}
		b.Run(name, func(b *testing.B) {
			src := fillLoadBench(b, parts, perPart, keep, pruned)
			var tps []runtime.TopicPartition
			for p := range int32(parts) {
				tps = append(tps, tp(p))
			}
			ctx := context.Background()
			end := int64(perPart * 10)
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				bucket := fmt.Sprintf("load-%t-%d-%d", pruned, b.N, i)
				url := srv.NewBucket(b, bucket)
				linkInto(b, src, filepath.Join(srv.Dir, bucket))
				b.StartTimer()
				s := openBlob(b, url)
				got, err := s.Load(ctx, tps)
				if err != nil {
					b.Fatal(err)
				}
				batch := runtime.StoredBatch{ID: 1, Time: time.Now()}
				for _, tp := range tps {
					if got[tp] != end {
						b.Fatalf("Load = %v, want %d for every partition", got, end)
					}
					batch.Ranges = append(batch.Ranges, rng(tp.Partition, end, end+10))
				}
				if err := s.Begin(ctx, batch); err != nil {
					b.Fatal(err)
				}
				for _, r := range batch.Ranges {
					w := s.Writer(r)
					for o := r.FromOffset; o < r.UntilOffset; o++ {
						v := impression(o, "")
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
				b.StartTimer()
			}
		})
	}
}

// fillLoadBench lays out, once, under os.TempDir, the files of a bucket
// the blob sink left after perPart batches of 10 records in each of
// parts partitions of topic imps: published objects of a few bytes, the
// claims (all, or the last keep and a prune marker), and each chain's
// start and head.
func fillLoadBench(b *testing.B, parts, perPart, keep int, pruned bool) string {
	b.Helper()
	const version = 1
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("streamgen-blobload-s3-v%d-%dx%d-pruned=%t", version, parts, perPart, pruned))
	if _, err := os.Stat(dir + ".complete"); err == nil {
		return dir
	}
	if err := os.RemoveAll(dir); err != nil {
		b.Fatal(err)
	}
	write := func(key, data string) {
		p := filepath.Join(dir, filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for p := range parts {
		claims := fmt.Sprintf("_streamgen/claims/topic=imps/partition=%d/", p)
		for i := range perPart {
			from := i * 10
			key := fmt.Sprintf("topic=imps/partition=%d/%020d-%020d.avro", p, from, from+10)
			write(key, "Obj\x01")
			if pruned && i < perPart-keep {
				continue
			}
			staged := fmt.Sprintf("_streamgen/staged/topic=imps/partition=%d/%020d-%020d.0123456789abcdef.1.avro", p, from, from+10)
			write(claims+fmt.Sprintf("%020d", from), fmt.Sprintf(`{"until":%d,"objects":[{"key":%q,"staged":%q}],"instance":"0123456789abcdef"}`, from+10, key, staged))
		}
		write(claims+"start", "0")
		write(claims+"head", fmt.Sprint((perPart-1)*10))
		if pruned {
			m := (perPart - keep) * 10
			write(claims+fmt.Sprintf("pruned/%020d", m), fmt.Sprint(m))
		}
	}
	if err := os.WriteFile(dir+".complete", nil, 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

// linkInto links every file under src into dst, keeping their paths.
func linkInto(b *testing.B, src, dst string) {
	b.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		return os.Link(p, filepath.Join(dst, rel))
	})
	if err != nil {
		b.Fatal(err)
	}
}
