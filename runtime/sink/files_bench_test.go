package sink

import (
	"context"
	"testing"
	"time"

	"github.com/streamgen/streamgen/runtime"
)

// BenchmarkFilesBatch is the files sink's cost per batch: 12 partitions
// of 1,000 Impressions each, encoded, written as container files, synced
// and published. The engine's decoding is not in it; the ETL job's end
// to end figures belong in BENCHMARKS-engine.md.
func BenchmarkFilesBatch(b *testing.B) {
	for _, c := range []Codec{CodecNull, CodecSnappy, CodecDeflate} {
		b.Run(string(c), func(b *testing.B) {
			const parts, per = 12, 1000
			f, err := NewFiles[impressionType](b.TempDir(), OCFCodec(c))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			vals := make([]impressionType, per)
			for i := range vals {
				vals[i] = impression(int64(i))
			}
			ctx := context.Background()
			next := int64(0)
			start := time.Now()
			for b.Loop() {
				batch := runtime.StoredBatch{ID: next}
				for p := range int32(parts) {
					batch.Ranges = append(batch.Ranges, rng("imps", p, next, next+per))
				}
				if err := f.Begin(ctx, batch); err != nil {
					b.Fatal(err)
				}
				for _, r := range batch.Ranges {
					w := f.Writer(r)
					for i := range vals {
						if err := w.Write(&vals[i]); err != nil {
							b.Fatal(err)
						}
					}
				}
				if err := f.Store(ctx, batch); err != nil {
					b.Fatal(err)
				}
				next += per
			}
			b.ReportMetric(float64(b.N*parts*per)/time.Since(start).Seconds(), "records/s")
		})
	}
}
