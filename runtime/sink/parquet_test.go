package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/parquet-go/parquet-go"
	"gocloud.dev/blob/memblob"

	"github.com/streamgen/streamgen/generated_test/cases/alltypes/alltypes"
	"github.com/streamgen/streamgen/runtime"
)

// readParquet reads a published Parquet object back with parquet-go:
// its schema and its rows as parquet-go reconstructs them.
func readParquet(t *testing.T, data []byte) (*parquet.Schema, []map[string]any, *parquet.File) {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	rd := parquet.NewReader(f)
	var rows []map[string]any
	for {
		m := map[string]any{}
		err := rd.Read(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, m)
	}
	return f.Schema(), rows, f
}

// TestParquetFromAvroSchema: AllTypes, which has every Avro type, written
// as Parquet and read back with parquet-go: the columns carry the Avro
// types' Parquet logical types, and each value (nested records, arrays
// empty and nested, maps, optionals null and set, enums, unions of
// every branch, timestamps, dates, decimals, uuids) comes back as
// written.
func TestParquetFromAvroSchema(t *testing.T) {
	ctx := context.Background()
	b := memblob.OpenBucket(nil)
	defer b.Close()
	s, err := NewBlob[alltypes.AllTypes](b, BlobFormat(FormatParquet), ParquetCompression("zstd"), ParquetRowGroupRows(1))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ua, last, suit := "ua", int64(-9), alltypes.SuitClubs
	ts := time.Date(2026, 12, 5, 6, 7, 8, 9_000_000, time.UTC)
	full := alltypes.AllTypes{
		B: true, I: -7, L: 1 << 40, F: 1.5, D: -2.25, By: []byte{0, 1, 2}, S: "s", E: alltypes.SuitHearts, Fx: alltypes.Hash4{1, 2, 3, 4},
		Arr:       []int64{1, 2},
		ArrRec:    []alltypes.Pair{{K: "a", V: 1}, {K: "b", V: 2}},
		M:         map[string]float64{"m": 0.5},
		MRec:      map[string]alltypes.Pair{"r": {K: "rk", V: 9}},
		NestedArr: [][]string{{"x", "y"}, {}, {"z"}},
		OptFirst:  &ua, OptLast: &last, OptRec: &alltypes.Pair{K: "o", V: 5}, OptEnum: &suit,
		OptArr: &[]int32{},
		U:      alltypes.AllTypesUPair{Value: alltypes.Pair{K: "u", V: 7}},
		UNull:  alltypes.AllTypesUNullString{Value: "un"},
		ArrU:   []alltypes.AllTypesArrUItem{nil, alltypes.AllTypesArrUItemDouble{Value: 4.5}, alltypes.AllTypesArrUItemString{Value: "au"}},
		TsMs:   ts, TsUs: ts, LtsMs: ts, LtsUs: ts,
		Date: time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC),
		TMs:  1500 * time.Millisecond, TUs: 1500 * time.Microsecond,
		DecBytes: big.NewRat(-1, 4), DecFixed: big.NewRat(5, 2), OptDec: big.NewRat(3, 2),
		UUID:  "3f2c8a9e-5b1d-4e7f-9a6c-000000000001",
		OptTs: &ts,
	}
	sparse := alltypes.AllTypes{E: alltypes.SuitSpades, U: alltypes.AllTypesULong{Value: 42}, DecBytes: new(big.Rat), DecFixed: new(big.Rat),
		UUID: "00000000-0000-0000-0000-0000000000ff"}
	r := runtime.OffsetRange{Topic: "all", Partition: 3, FromOffset: 10, UntilOffset: 12}
	batch := runtime.StoredBatch{ID: 1, Ranges: []runtime.OffsetRange{r}}
	if err := s.Begin(ctx, batch); err != nil {
		t.Fatal(err)
	}
	w := s.Writer(r)
	for _, v := range []*alltypes.AllTypes{&full, &sparse} {
		if err := w.Write(v); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Store(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if got, want := s.Key(r, ""), "topic=all/partition=3/00000000000000000010-00000000000000000012.parquet"; got != want {
		t.Errorf("key %s, want %s", got, want)
	}
	data, err := b.ReadAll(ctx, s.Key(r, ""))
	if err != nil {
		t.Fatal(err)
	}
	schema, rows, f := readParquet(t, data)
	if len(f.RowGroups()) != 2 {
		t.Errorf("%d row groups, want 2 (one row each)", len(f.RowGroups()))
	}
	if v, ok := f.Lookup("streamgen.until_offset"); !ok || v != "12" {
		t.Errorf("metadata streamgen.until_offset = %q, want 12", v)
	}
	if v, _ := f.Lookup("avro.schema"); v != alltypes.AllTypesSchema {
		t.Errorf("metadata avro.schema is not the record's schema")
	}
	text := schema.String()
	for _, want := range []string{
		"required binary e (ENUM);",
		"required int64 ts_ms (TIMESTAMP(isAdjustedToUTC=true,unit=MILLIS));",
		"required int64 lts_us (TIMESTAMP(isAdjustedToUTC=false,unit=MICROS));",
		"required int32 date (DATE);",
		"required int32 t_ms (TIME(isAdjustedToUTC=true,unit=MILLIS));",
		"required binary dec_bytes (DECIMAL(10,3));",
		"required fixed_len_byte_array(8) dec_fixed (DECIMAL(18,2));",
		"optional binary opt_dec (DECIMAL(5,2));",
		"required binary uuid (STRING);",
		"optional binary opt_first (STRING);",
		"required group m (MAP) {",
		"required group nested_arr (LIST) {",
		"optional group opt_arr (LIST) {",
		"optional group opt_rec {",
		"required group u {",
		"optional group u_null {",
		"optional double member0;",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the schema has no %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, " n;") || strings.Contains(text, " n (") {
		t.Errorf("the null field n has a column:\n%s", text)
	}
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2", len(rows))
	}
	want := []map[string]any{{
		"b": true, "i": int32(-7), "l": int64(1 << 40), "f": float32(1.5), "d": -2.25, "by": "\x00\x01\x02", "s": "s", "e": "HEARTS",
		"fx":         []byte{1, 2, 3, 4},
		"arr":        []any{int64(1), int64(2)},
		"arr_rec":    []any{map[string]any{"k": "a", "v": int32(1)}, map[string]any{"k": "b", "v": int32(2)}},
		"m":          map[string]any{"m": 0.5},
		"m_rec":      map[string]any{"r": printed("{[114 107] 9}")}, // parquet-go gives a map's record values as structs
		"nested_arr": []any{[]any{"x", "y"}, []any{}, []any{"z"}},
		"opt_first":  "ua", "opt_last": int64(-9), "opt_rec": map[string]any{"k": "o", "v": int32(5)}, "opt_enum": "CLUBS",
		"opt_arr": []any{},
		"u":       map[string]any{"member0": nil, "member1": nil, "member2": map[string]any{"k": "u", "v": int32(7)}, "member3": nil},
		"u_null":  map[string]any{"member0": nil, "member1": "un", "member2": nil},
		"arr_u":   []any{nil, map[string]any{"member0": 4.5, "member1": nil}, map[string]any{"member0": nil, "member1": "au"}},
		"ts_ms":   ts.UnixMilli(), "ts_us": ts.UnixMicro(), "lts_ms": ts.UnixMilli(), "lts_us": ts.UnixMicro(),
		"date": int32(20792),
		"t_ms": int32(1500), "t_us": int64(1500),
		"dec_bytes": printed("-0.25"), "dec_fixed": printed("2.5"), "opt_dec": printed("1.5"),
		"uuid":   "3f2c8a9e-5b1d-4e7f-9a6c-000000000001", // a uuid string stays a STRING
		"opt_ts": ts.UnixMilli(),
	}, {
		"e": "SPADES", "arr": []any{}, "arr_rec": []any{}, "m": map[string]any{}, "m_rec": map[string]any{}, "nested_arr": []any{},
		"opt_first": nil, "opt_last": nil, "opt_rec": nil, "opt_enum": nil, "opt_arr": nil, "opt_fixed": nil, "opt_dec": nil, "opt_ts": nil,
		"u":      map[string]any{"member0": nil, "member1": int64(42), "member2": nil, "member3": nil},
		"u_null": nil, "arr_u": []any{},
		"uuid": "00000000-0000-0000-0000-0000000000ff",
	}}
	for i, w := range want {
		got := rows[i]
		for k, wv := range w {
			if diff := cmp.Diff(wv, normalize(got[k], wv)); diff != "" {
				t.Errorf("row %d field %s (-want +got):\n%s", i, k, diff)
			}
		}
	}
}

// printed is a wanted value compared by how fmt prints the value got:
// parquet-go reconstructs decimals as its own decimal type and a map's
// record values as structs.
type printed string

// normalize turns the parts of got that want compares as printed into
// their printed form.
func normalize(got, want any) any {
	switch w := want.(type) {
	case printed:
		return printed(fmt.Sprint(got))
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return got
		}
		out := make(map[string]any, len(g))
		for k, x := range g {
			out[k] = normalize(x, w[k])
		}
		return out
	}
	return got
}

// TestParquetRefusesWhatItCannotStore: a bad compression or row group
// size fails at NewBlob.
func TestParquetRefusesBadSettings(t *testing.T) {
	b := memblob.OpenBucket(nil)
	defer b.Close()
	if _, err := NewBlob[alltypes.AllTypes](b, BlobFormat(FormatParquet), ParquetCompression("lz4")); err == nil || !strings.Contains(err.Error(), "lz4") {
		t.Errorf("NewBlob with lz4 = %v, want an error naming it", err)
	}
	if _, err := NewBlob[alltypes.AllTypes](b, BlobFormat(FormatParquet), ParquetRowGroupRows(0)); err == nil {
		t.Error("NewBlob with row groups of 0 rows succeeded")
	}
}

// TestParquetHivePartitioned: Parquet objects split by a field's value,
// each bucket's file holding its records only.
func TestParquetHivePartitioned(t *testing.T) {
	ctx := context.Background()
	b := memblob.OpenBucket(nil)
	defer b.Close()
	s, err := NewBlob[alltypes.Impression](b, BlobFormat(FormatParquet), PartitionByField("device"), BlobUploadBufferSize(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := rng("imps", 0, 0, 3)
	batch := runtime.StoredBatch{Ranges: []runtime.OffsetRange{r}}
	if err := s.Begin(ctx, batch); err != nil {
		t.Fatal(err)
	}
	w := s.Writer(r)
	for o, d := range []alltypes.DeviceType{alltypes.DeviceTypePhone, alltypes.DeviceTypeTv, alltypes.DeviceTypePhone} {
		v := impression(int64(o))
		v.Device = d
		if err := w.WriteAt(int64(o), &v); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Store(ctx, batch); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string][]int64{
		"topic=imps/device=PHONE/partition=0/00000000000000000000-00000000000000000003.parquet": {0, 2},
		"topic=imps/device=TV/partition=0/00000000000000000001-00000000000000000002.parquet":    {1},
	} {
		data, err := b.ReadAll(ctx, key)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		_, rows, _ := readParquet(t, data)
		var got []int64
		for _, row := range rows {
			got = append(got, row["campaign_id"].(int64))
		}
		if !cmp.Equal(got, want) {
			t.Errorf("%s holds campaigns %v, want %v", key, got, want)
		}
	}
}

// TestParquetEncoderBatches: rows go to parquet-go in batches, their
// strings read as views of the values' binary, so a value written after
// another must never change an earlier one's row: 1,000 values of their
// own strings, from Avro binary in a reused buffer and from typed values,
// row groups ending between batches, all read back as written.
func TestParquetEncoderBatches(t *testing.T) {
	l, err := newPQLayout(new(alltypes.Impression).AvroSchema())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	r := runtime.OffsetRange{Topic: "imps", Partition: 0, FromOffset: 0, UntilOffset: 1000}
	e := newParquetEncoder[alltypes.Impression](l, &out, blobCfg{compression: "snappy", rowGroup: 1_000_000, groupBytes: 30_000}, r)
	var buf []byte
	for i := range int64(1000) {
		v := impression(i)
		ua := fmt.Sprint("agent-", i)
		v.UserAgent = &ua
		v.Segments = []string{fmt.Sprint("segment-", i), fmt.Sprint("other-", i)}
		if i%2 == 0 {
			if buf, err = v.AppendAvro(buf[:0]); err != nil {
				t.Fatal(err)
			}
			err = e.writeAvro(buf)
		} else {
			err = e.write(&v)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := e.close(); err != nil {
		t.Fatal(err)
	}
	_, rows, f := readParquet(t, out.Bytes())
	if len(rows) != 1000 || len(f.RowGroups()) < 2 {
		t.Fatalf("%d rows in %d row groups, want 1000 in several", len(rows), len(f.RowGroups()))
	}
	for i, row := range rows {
		segs, _ := row["segments"].([]any)
		if row["campaign_id"] != int64(i) || row["user_agent"] != fmt.Sprint("agent-", i) || len(segs) != 2 || segs[0] != fmt.Sprint("segment-", i) || segs[1] != fmt.Sprint("other-", i) {
			t.Fatalf("row %d = campaign %v, user agent %v, segments %v", i, row["campaign_id"], row["user_agent"], row["segments"])
		}
	}
}

// TestParquetEncoderRowGroupsByRows: written column by column, the rows
// bypass parquet-go's own row group limit, so the encoder ends row groups
// at the configured rows itself: 1,000 AllTypes values of every shape
// (optionals null and set, arrays and maps empty and not, union
// branches), in row groups of 300 rows, batches ending inside groups,
// all read back with parquet-go as written; and a file with nothing
// written closes as a valid empty file.
func TestParquetEncoderRowGroupsByRows(t *testing.T) {
	l, err := newPQLayout(new(alltypes.AllTypes).AvroSchema())
	if err != nil {
		t.Fatal(err)
	}
	r := runtime.OffsetRange{Topic: "all", Partition: 0, FromOffset: 0, UntilOffset: 1000}
	cfg := blobCfg{compression: "snappy", rowGroup: 300, groupBytes: 64 << 20}
	var out bytes.Buffer
	e := newParquetEncoder[alltypes.AllTypes](l, &out, cfg, r)
	const n = 1000
	for i := range n {
		v := alltypes.AllTypes{S: fmt.Sprint("s-", i), L: int64(i), E: alltypes.SuitSpades, DecBytes: new(big.Rat), DecFixed: new(big.Rat),
			UUID: "00000000-0000-0000-0000-0000000000ff", U: alltypes.AllTypesULong{Value: int64(i)}}
		for j := range i % 4 {
			v.Arr = append(v.Arr, int64(i*10+j))
		}
		if i%3 != 0 {
			s := fmt.Sprint("opt-", i)
			v.OptFirst = &s
		}
		if i%5 == 0 {
			v.U = alltypes.AllTypesUString{Value: fmt.Sprint("u-", i)}
			v.M = map[string]float64{fmt.Sprint("k", i): float64(i)}
		}
		if err := e.write(&v); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.close(); err != nil {
		t.Fatal(err)
	}
	_, rows, f := readParquet(t, out.Bytes())
	var sizes []int64
	for _, g := range f.RowGroups() {
		sizes = append(sizes, g.NumRows())
	}
	if want := []int64{300, 300, 300, 100}; !cmp.Equal(sizes, want) || f.NumRows() != n {
		t.Errorf("row groups of %v rows, %d in all, want %v, %d", sizes, f.NumRows(), want, n)
	}
	if len(rows) != n {
		t.Fatalf("%d rows, want %d", len(rows), n)
	}
	for i, row := range rows {
		arr := []any{}
		for j := range i % 4 {
			arr = append(arr, int64(i*10+j))
		}
		var opt any
		if i%3 != 0 {
			opt = fmt.Sprint("opt-", i)
		}
		u := map[string]any{"member0": nil, "member1": int64(i), "member2": nil, "member3": nil}
		m := map[string]any{}
		if i%5 == 0 {
			u = map[string]any{"member0": fmt.Sprint("u-", i), "member1": nil, "member2": nil, "member3": nil}
			m = map[string]any{fmt.Sprint("k", i): float64(i)}
		}
		want := map[string]any{"s": fmt.Sprint("s-", i), "l": int64(i), "arr": arr, "opt_first": opt, "u": u, "m": m, "opt_rec": nil}
		for k, wv := range want {
			if diff := cmp.Diff(wv, row[k]); diff != "" {
				t.Fatalf("row %d field %s (-want +got):\n%s", i, k, diff)
			}
		}
	}

	out.Reset()
	if err := newParquetEncoder[alltypes.AllTypes](l, &out, cfg, r).close(); err != nil {
		t.Fatal(err)
	}
	if _, rows, f := readParquet(t, out.Bytes()); len(rows) != 0 || len(f.RowGroups()) != 0 {
		t.Errorf("an empty file read back as %d rows in %d row groups", len(rows), len(f.RowGroups()))
	}
}

// TestParquetLevelsInPlace: the shredder sets values' levels in place,
// on parquet.Value's layout as parquet-go v0.32.1 has it; a parquet-go
// whose Value differs makes it fall back to Value.Level, correct but
// slower, and this test says so.
func TestParquetLevelsInPlace(t *testing.T) {
	if !pqLevelsInPlace {
		t.Error("parquet.Value's layout is not pqValue's: the shredder sets levels with Value.Level (slower); update pqValue")
	}
}
