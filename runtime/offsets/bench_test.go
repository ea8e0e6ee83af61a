package offsets_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/streamgen/streamgen/internal/pgtest"
	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/offsets"
)

// BenchmarkFencedStore is the cost of storing one batch's offsets in
// PostgreSQL, fenced, at 12 and at 1,000 partitions: ms/batch.
func BenchmarkFencedStore(b *testing.B) {
	dsn := pgtest.DSN(b)
	for _, parts := range []int32{12, 1000} {
		b.Run(fmt.Sprintf("partitions=%d", parts), func(b *testing.B) {
			table := pgtest.Table(b, dsn, "bench_offsets")
			s, err := offsets.NewPostgres(context.Background(), dsn, "bench", offsets.Table(table))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			next := int64(0)
			batch := func() runtime.StoredBatch {
				rs := make([]runtime.OffsetRange, parts)
				for p := range parts {
					rs[p] = runtime.OffsetRange{Topic: "clicks", Partition: p, FromOffset: next, UntilOffset: next + 100}
				}
				next += 100
				return runtime.StoredBatch{ID: next / 100, Ranges: rs}
			}
			if err := s.Store(ctx, batch()); err != nil { // the rows exist from here on
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if err := s.Store(ctx, batch()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/batch")
		})
	}
}
