package sink

import (
	"io"
	"testing"

	"github.com/streamgen/streamgen/generated_test/cases/alltypes/alltypes"
	"github.com/streamgen/streamgen/runtime"
)

// BenchmarkParquetEncoder is the cost of one Impression in a Parquet file
// (snappy, default row groups), from its Avro binary, as the rolling blob
// sink appends it, and from the typed value, as a per-batch sink's task
// writes it: shredding into columns, encoding and compressing pages.
//
//	go test -run '^$' -bench ParquetEncoder -benchmem ./runtime/sink
func BenchmarkParquetEncoder(b *testing.B) {
	l, err := newPQLayout(new(alltypes.Impression).AvroSchema())
	if err != nil {
		b.Fatal(err)
	}
	vals := make([]alltypes.Impression, 1000)
	bins := make([][]byte, len(vals))
	size := 0
	for i := range vals {
		vals[i] = impression(int64(i))
		if bins[i], err = vals[i].AppendAvro(nil); err != nil {
			b.Fatal(err)
		}
		size += len(bins[i])
	}
	r := runtime.OffsetRange{Topic: "imps", Partition: 0, FromOffset: 0, UntilOffset: 1}
	// from=columns is parquet-go's share alone: the same records'
	// values, shredded once before the loop, given to the column
	// writers pqBatch rows at a time as the encoder does, pages encoded
	// and compressed. It is the floor of any encoder built on those
	// writers, whatever shreds the values.
	b.Run("from=columns", func(b *testing.B) {
		b.SetBytes(int64(size / len(vals)))
		e := newParquetEncoder[alltypes.Impression](l, io.Discard, blobCfg{compression: "snappy", rowGroup: 1_000_000, groupBytes: 64 << 20}, r)
		var src []byte
		for i := range pqBatch {
			src = append(src, bins[i%len(bins)]...)
		}
		off := 0
		for i := range pqBatch {
			n := len(bins[i%len(bins)])
			if err := e.sh.shred(src[off : off+n]); err != nil {
				b.Fatal(err)
			}
			off += n
		}
		cols := e.w.ColumnWriters()
		for i := 0; b.Loop(); i++ {
			if i%pqBatch != 0 {
				continue // one write of pqBatch rows stands for pqBatch records
			}
			for c, w := range cols {
				if _, err := w.WriteRowValues(e.sh.cols[c]); err != nil {
					b.Fatal(err)
				}
			}
		}
		e.sh.reset()
		if err := e.close(); err != nil {
			b.Fatal(err)
		}
	})
	for _, from := range []string{"avro", "value"} {
		b.Run("from="+from, func(b *testing.B) {
			b.SetBytes(int64(size / len(vals)))
			e := newParquetEncoder[alltypes.Impression](l, io.Discard, blobCfg{compression: "snappy", rowGroup: 1_000_000, groupBytes: 64 << 20}, r)
			for i := 0; b.Loop(); i++ {
				var err error
				if from == "avro" {
					err = e.writeAvro(bins[i%len(bins)])
				} else {
					err = e.write(&vals[i%len(vals)])
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			if err := e.close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}
