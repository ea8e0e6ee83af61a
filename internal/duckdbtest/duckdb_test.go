package duckdbtest

import (
	"context"
	"database/sql"
	"fmt"
	"math/big"
	"reflect"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/streamgen/streamgen/generated_test/cases/alltypes/alltypes"
	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/codec"
	"github.com/streamgen/streamgen/runtime/sink"
)

// writeWarehouse writes values through the blob sink into a file://
// warehouse as Parquet with opts (its Hive partitions), batch by batch as
// the engine does: batches[i] holds the offset ranges of batch i, and
// value(p, o) is the value of partition p's offset o. It returns the
// read_parquet call DuckDB reads the warehouse with.
func writeWarehouse[T any, PT codec.RecordPtr[T]](t *testing.T, topic string, batches [][]runtime.OffsetRange, value func(p int32, o int64) T, opts ...sink.BlobOpt) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := sink.OpenBlob[T, PT](ctx, "file://"+dir, append([]sink.BlobOpt{sink.BlobFormat(sink.FormatParquet)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, ranges := range batches {
		b := runtime.StoredBatch{ID: int64(i), Time: time.Now(), Ranges: ranges}
		if err := s.Begin(ctx, b); err != nil {
			t.Fatal(err)
		}
		for _, r := range ranges {
			w := s.Writer(r)
			for o := r.FromOffset; o < r.UntilOffset; o++ {
				v := value(r.Partition, o)
				if err := w.WriteAt(o, &v); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := s.Store(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	return fmt.Sprintf("read_parquet('%s/**/*.parquet', hive_partitioning = true)", dir)
}

func openDuckDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// columnTypes is DuckDB's name of each column's type.
func columnTypes(t *testing.T, db *sql.DB, from string) map[string]string {
	t.Helper()
	rows, err := db.Query("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM " + from + ")")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			t.Fatal(err)
		}
		out[name] = typ
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func checkTypes(t *testing.T, got, want map[string]string) {
	t.Helper()
	for col, typ := range want {
		if got[col] != typ {
			t.Errorf("DuckDB reads column %s as %q, want %q", col, got[col], typ)
		}
	}
	for col := range got {
		if _, ok := want[col]; !ok {
			t.Errorf("DuckDB reads an unexpected column %s (%s)", col, got[col])
		}
	}
}

// query1 is the one value of a query.
func query1(t *testing.T, db *sql.DB, q string) any {
	t.Helper()
	var v any
	if err := db.QueryRow(q).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

// equal compares what DuckDB gave with what is wanted; times by Equal.
func equal(got, want any) bool {
	if g, ok := got.(time.Time); ok {
		w, ok := want.(time.Time)
		return ok && g.Equal(w)
	}
	return reflect.DeepEqual(got, want)
}

// impression is partition p's offset o: n = 3*o+p numbers it, and each
// field varies with it, null and empty values included.
func impression(p int32, o int64) alltypes.Impression {
	n := 3*o + int64(p)
	v := alltypes.Impression{
		ImpressionID: fmt.Sprintf("3f2c8a9e-5b1d-4e7f-9a6c-%012d", n),
		CampaignID:   n,
		CreativeID:   int32(n % 5),
		PublisherID:  fmt.Sprintf("pub-%d", n%4),
		Timestamp:    time.Date(2026, 12, 5, 6+int(n%3), int(n%60), 7, 250_000_000, time.UTC),
		Device:       []alltypes.DeviceType{alltypes.DeviceTypePhone, alltypes.DeviceTypeTablet, alltypes.DeviceTypeDesktop, alltypes.DeviceTypeTv}[n%4],
		Geo:          alltypes.GeoPoint{Lat: float64(n) / 8, Lon: -float64(n) / 4, Country: []string{"FR", "DE"}[n%2]},
		BidPrice:     big.NewRat(n*1001, 1_000_000),
		Viewable:     n%2 == 0,
		LatencyMs:    int32(n % 100),
		Segments:     []string{},
		Labels:       map[string]string{},
	}
	if n%4 != 0 {
		ua := fmt.Sprintf("agent-%d", n)
		v.UserAgent = &ua
	}
	if n%5 != 0 {
		f := float32(n) / 2
		v.FloorPrice = &f
	}
	for i := range n % 3 {
		v.Segments = append(v.Segments, fmt.Sprintf("seg-%d", i))
	}
	if n%2 == 1 {
		v.Labels["placement"] = fmt.Sprintf("slot-%d", n%7)
	}
	for i := range v.Fingerprint {
		v.Fingerprint[i] = byte(n) + byte(i)
	}
	return v
}

// TestDuckDBReadsImpressions: the warehouse ETL's Parquet, partitioned by
// the hour of the timestamp and by device, read by DuckDB with
// hive_partitioning: every column has the type a data team expects, the
// counts and sums are those written, and every row's values, the
// partition columns included, are those of the impression it came from.
func TestDuckDBReadsImpressions(t *testing.T) {
	const parts, perBatch = 3, 50
	var batches [][]runtime.OffsetRange
	for b := range int64(4) {
		var rs []runtime.OffsetRange
		for p := range int32(parts) {
			rs = append(rs, runtime.OffsetRange{Topic: "impressions", Partition: p, FromOffset: b * perBatch, UntilOffset: (b + 1) * perBatch})
		}
		batches = append(batches, rs)
	}
	const total = 4 * perBatch * parts
	from := writeWarehouse(t, "impressions", batches, impression,
		sink.PartitionByTime("timestamp", sink.Hour), sink.PartitionByField("device"))
	db := openDuckDB(t)

	checkTypes(t, columnTypes(t, db, from), map[string]string{
		"impression_id": "VARCHAR",
		"campaign_id":   "BIGINT",
		"creative_id":   "INTEGER",
		"publisher_id":  "VARCHAR",
		"timestamp":     "TIMESTAMP WITH TIME ZONE",
		"device":        "VARCHAR",
		// A record's fields come sorted by name (parquet-go's groups
		// are), not in the schema's order as parquet-avro writes them.
		"geo":         "STRUCT(country VARCHAR, lat DOUBLE, lon DOUBLE)",
		"user_agent":  "VARCHAR",
		"bid_price":   "DECIMAL(12,6)",
		"floor_price": "FLOAT",
		"viewable":    "BOOLEAN",
		"segments":    "VARCHAR[]",
		"labels":      "MAP(VARCHAR, VARCHAR)",
		"latency_ms":  "INTEGER",
		"fingerprint": "BLOB",
		// The Hive partitions' columns.
		"topic":     "VARCHAR",
		"dt":        "DATE",
		"hour":      "VARCHAR",
		"partition": "BIGINT",
	})

	var wantBid big.Rat
	var wantUA, wantFloor, wantSegs, wantLabels int64
	var wantFloorSum float64
	perBucket := map[string]int64{}
	for n := range int64(total) {
		v := impression(int32(n%3), n/3)
		wantBid.Add(&wantBid, v.BidPrice)
		if v.UserAgent != nil {
			wantUA++
		}
		if v.FloorPrice != nil {
			wantFloor++
			wantFloorSum += float64(*v.FloorPrice)
		}
		wantSegs += int64(len(v.Segments))
		wantLabels += int64(len(v.Labels))
		perBucket[fmt.Sprintf("%s/%02d/%s", v.Timestamp.Format(time.DateOnly), v.Timestamp.Hour(), v.Device)]++
	}
	for q, want := range map[string]any{
		"SELECT count(*) FROM %s":                                 int64(total),
		"SELECT count(DISTINCT impression_id) FROM %s":            int64(total),
		"SELECT sum(campaign_id) FROM %s":                         big.NewInt(total * (total - 1) / 2),
		"SELECT CAST(sum(bid_price) AS VARCHAR) FROM %s":          wantBid.FloatString(6),
		"SELECT count(user_agent) FROM %s":                        wantUA,
		"SELECT count(floor_price) FROM %s":                       wantFloor,
		"SELECT sum(floor_price) FROM %s":                         wantFloorSum,
		"SELECT sum(len(segments)) FROM %s":                       big.NewInt(wantSegs),
		"SELECT sum(cardinality(labels)) FROM %s":                 big.NewInt(wantLabels),
		"SELECT count(*) FROM %s WHERE geo.country = 'FR'":        int64(total / 2),
		"SELECT count(DISTINCT (partition, campaign_id)) FROM %s": int64(total),
	} {
		q = fmt.Sprintf(q, from)
		if got := query1(t, db, q); !equal(got, want) {
			t.Errorf("%s = %#v, want %#v", q, got, want)
		}
	}
	// Each Hive directory holds the rows of its hour and device.
	rows, err := db.Query("SELECT strftime(dt, '%Y-%m-%d') || '/' || hour || '/' || device, count(*) FROM " + from + " GROUP BY ALL")
	if err != nil {
		t.Fatal(err)
	}
	gotBuckets := map[string]int64{}
	for rows.Next() {
		var k string
		var c int64
		if err := rows.Scan(&k, &c); err != nil {
			t.Fatal(err)
		}
		gotBuckets[k] = c
	}
	rows.Close()
	if !reflect.DeepEqual(gotBuckets, perBucket) {
		t.Errorf("rows per dt/hour/device = %v, want %v", gotBuckets, perBucket)
	}

	// Every row, field by field.
	rows, err = db.Query(`SELECT impression_id, campaign_id, creative_id, publisher_id, timestamp, device, geo, user_agent,
		CAST(bid_price AS VARCHAR), floor_price, viewable, segments, map_keys(labels), map_values(labels), latency_ms, fingerprint,
		topic, strftime(dt, '%Y-%m-%d'), hour, partition FROM ` + from + " ORDER BY campaign_id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := int64(0)
	for ; rows.Next(); n++ {
		var (
			id, pub, dev, bid, topic, dt, hour string
			campaign, partition                int64
			creative, latency                  int32
			ts                                 time.Time
			geo                                map[string]any
			ua                                 *string
			floor                              *float32
			viewable                           bool
			segs, lkeys, lvals                 []any
			fp                                 []byte
		)
		if err := rows.Scan(&id, &campaign, &creative, &pub, &ts, &dev, &geo, &ua, &bid, &floor, &viewable, &segs, &lkeys, &lvals, &latency, &fp,
			&topic, &dt, &hour, &partition); err != nil {
			t.Fatal(err)
		}
		w := impression(int32(n%3), n/3)
		wantSegs := []any{}
		for _, s := range w.Segments {
			wantSegs = append(wantSegs, s)
		}
		wantKeys, wantVals := []any{}, []any{}
		for k, v := range w.Labels {
			wantKeys, wantVals = append(wantKeys, k), append(wantVals, v)
		}
		got := []any{id, campaign, creative, pub, ts.UTC(), dev, geo, ua, bid, floor, viewable, segs, lkeys, lvals, latency, fp, topic, dt, hour, partition}
		want := []any{w.ImpressionID, w.CampaignID, w.CreativeID, w.PublisherID, w.Timestamp, string(w.Device),
			map[string]any{"lat": w.Geo.Lat, "lon": w.Geo.Lon, "country": w.Geo.Country}, w.UserAgent, w.BidPrice.FloatString(6), w.FloorPrice,
			w.Viewable, wantSegs, wantKeys, wantVals, w.LatencyMs, w.Fingerprint[:], "impressions",
			w.Timestamp.Format(time.DateOnly), fmt.Sprintf("%02d", w.Timestamp.Hour()), n % 3}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("row %d:\n got %#v\nwant %#v", n, got, want)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != total {
		t.Errorf("read %d rows, want %d", n, total)
	}
}

// allTypes are two values of every Avro type: offset 0 full, offset 1
// with its optional fields null and its collections empty.
func allTypes(_ int32, o int64) alltypes.AllTypes {
	ts := time.Date(2026, 12, 5, 6, 1, 2, 3_000_000, time.UTC)
	v := alltypes.AllTypes{E: alltypes.SuitClubs, TsMs: ts, TsUs: ts.Add(4 * time.Microsecond), LtsMs: ts, LtsUs: ts, Date: time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC),
		DecBytes: big.NewRat(0, 1), DecFixed: big.NewRat(0, 1), U: alltypes.AllTypesUString{Value: "s"}}
	if o == 1 {
		return v
	}
	spades, str, l, h, arr := alltypes.SuitSpades, "x", int64(5), alltypes.Hash4{1, 2, 3, 4}, []int32{1, 2}
	v.B, v.I, v.L, v.F, v.D, v.By, v.S, v.E, v.Fx = true, -1, 1<<40, 1.5, -2.25, []byte{0, 1, 255}, "héllo", alltypes.SuitHearts, h
	v.Arr, v.ArrRec = []int64{1, 2}, []alltypes.Pair{{K: "a", V: 1}, {K: "b", V: 2}}
	v.M, v.MRec = map[string]float64{"a": 1}, map[string]alltypes.Pair{"k": {K: "b", V: 2}}
	v.NestedArr = [][]string{{"a", "b"}, {}}
	v.OptFirst, v.OptLast, v.OptRec, v.OptEnum, v.OptFixed, v.OptArr = &str, &l, &alltypes.Pair{K: "c", V: 3}, &spades, &h, &arr
	v.U = alltypes.AllTypesUPair{Value: alltypes.Pair{K: "u", V: 9}}
	v.UNull = alltypes.AllTypesUNullSuit{Value: spades}
	v.ArrU = []alltypes.AllTypesArrUItem{nil, alltypes.AllTypesArrUItemDouble{Value: 1}, alltypes.AllTypesArrUItemString{Value: "z"}}
	v.TMs, v.TUs = 3*time.Second+4*time.Millisecond, 4*time.Second+5*time.Microsecond
	v.DecBytes, v.DecFixed, v.OptDec = big.NewRat(12345, 1000), big.NewRat(-1050, 100), big.NewRat(1, 4)
	v.UUID, v.Dur = "3f2c8a9e-5b1d-4e7f-9a6c-000000000001", codec.Duration{Months: 1, Days: 2, Milliseconds: 3}
	v.OptTs, v.Type, v.Func = &ts, "t", 7
	return v
}

// TestDuckDBReadsEveryAvroType: a record of every Avro type (the
// generated AllTypes of schemas/alltypes.avsc), written as Parquet with
// Hive partitions and read by DuckDB: each column's DuckDB type, and each
// value of a full row and of a row of nulls and empty collections.
func TestDuckDBReadsEveryAvroType(t *testing.T) {
	from := writeWarehouse(t, "all", [][]runtime.OffsetRange{{{Topic: "all", Partition: 0, FromOffset: 0, UntilOffset: 2}}}, allTypes,
		sink.PartitionByTime("ts_ms", sink.Hour), sink.PartitionByField("e"))
	db := openDuckDB(t)
	pair := "STRUCT(k VARCHAR, v INTEGER)"
	checkTypes(t, columnTypes(t, db, from), map[string]string{
		"b": "BOOLEAN", "i": "INTEGER", "l": "BIGINT", "f": "FLOAT", "d": "DOUBLE", "by": "BLOB", "s": "VARCHAR",
		// n, of type null, has no column.
		"e":          "VARCHAR", // an ENUM column; also the Hive partition e=
		"fx":         "BLOB",
		"arr":        "BIGINT[]",
		"arr_rec":    pair + "[]",
		"m":          "MAP(VARCHAR, DOUBLE)",
		"m_rec":      "MAP(VARCHAR, " + pair + ")",
		"nested_arr": "VARCHAR[][]",
		"opt_first":  "VARCHAR", "opt_last": "BIGINT", "opt_rec": pair, "opt_enum": "VARCHAR", "opt_fixed": "BLOB", "opt_arr": "INTEGER[]",
		"u":      "STRUCT(member0 VARCHAR, member1 BIGINT, member2 " + pair + ", member3 INTEGER[])",
		"u_null": "STRUCT(member0 INTEGER, member1 VARCHAR, member2 VARCHAR)",
		"arr_u":  "STRUCT(member0 DOUBLE, member1 VARCHAR)[]",
		"ts_ms":  "TIMESTAMP WITH TIME ZONE", "ts_us": "TIMESTAMP WITH TIME ZONE",
		"lts_ms": "TIMESTAMP", "lts_us": "TIMESTAMP",
		"date": "DATE",
		// Avro's time-millis/micros are a time of day in no zone, but
		// written as parquet-avro writes them (isAdjustedToUTC) DuckDB
		// reads a TIME WITH TIME ZONE.
		"t_ms": "TIME WITH TIME ZONE", "t_us": "TIME WITH TIME ZONE",
		"dec_bytes": "DECIMAL(10,3)", "dec_fixed": "DECIMAL(18,2)", "opt_dec": "DECIMAL(5,2)",
		"uuid":   "VARCHAR",
		"dur":    "INTERVAL",
		"opt_ts": "TIMESTAMP WITH TIME ZONE",
		"type":   "VARCHAR", "func": "INTEGER",
		"topic": "VARCHAR", "dt": "DATE", "hour": "VARCHAR", "partition": "BIGINT",
	})

	ts := time.Date(2026, 12, 5, 6, 1, 2, 3_000_000, time.UTC)
	local := time.Date(2026, 12, 5, 6, 1, 2, 3_000_000, time.UTC) // DuckDB gives a TIMESTAMP as UTC
	full := map[string]any{
		"b": true, "i": int32(-1), "l": int64(1 << 40), "f": float32(1.5), "d": -2.25, `"by"`: []byte{0, 1, 255}, "s": "héllo",
		"e": "HEARTS", "fx": []byte{1, 2, 3, 4},
		"arr":               []any{int64(1), int64(2)},
		"arr_rec":           []any{map[string]any{"k": "a", "v": int32(1)}, map[string]any{"k": "b", "v": int32(2)}},
		"map_keys(m)":       []any{"a"},
		"map_values(m)":     []any{1.0},
		"map_keys(m_rec)":   []any{"k"},
		"map_values(m_rec)": []any{map[string]any{"k": "b", "v": int32(2)}},
		"nested_arr":        []any{[]any{"a", "b"}, []any{}},
		"opt_first":         "x", "opt_last": int64(5), "opt_rec": map[string]any{"k": "c", "v": int32(3)},
		"opt_enum": "SPADES", "opt_fixed": []byte{1, 2, 3, 4}, "opt_arr": []any{int32(1), int32(2)},
		"u":      map[string]any{"member0": nil, "member1": nil, "member2": map[string]any{"k": "u", "v": int32(9)}, "member3": nil},
		"u_null": map[string]any{"member0": nil, "member1": nil, "member2": "SPADES"},
		"arr_u":  []any{nil, map[string]any{"member0": 1.0, "member1": nil}, map[string]any{"member0": nil, "member1": "z"}},
		"ts_ms":  ts, "ts_us": ts.Add(4 * time.Microsecond), "lts_ms": local, "lts_us": local,
		"date":                       time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC),
		"CAST(t_ms AS VARCHAR)":      "00:00:03.004+00",
		"CAST(t_us AS VARCHAR)":      "00:00:04.000005+00",
		"CAST(dec_bytes AS VARCHAR)": "12.345",
		"CAST(dec_fixed AS VARCHAR)": "-10.50",
		"CAST(opt_dec AS VARCHAR)":   "0.25",
		"uuid":                       "3f2c8a9e-5b1d-4e7f-9a6c-000000000001",
		"CAST(dur AS VARCHAR)":       "1 month 2 days 00:00:00.003",
		"opt_ts":                     ts,
		`"type"`:                     "t",
		`"func"`:                     int32(7),
		"topic":                      "all",
		"strftime(dt, '%Y-%m-%d')":   "2026-12-05",
		"hour":                       "06",
		"partition":                  int64(0),
	}
	empty := map[string]any{
		"b": false, "arr": []any{}, "arr_rec": []any{}, "cardinality(m)": uint64(0), "cardinality(m_rec)": uint64(0), "nested_arr": []any{},
		"opt_first": nil, "opt_last": nil, "opt_rec": nil, "opt_enum": nil, "opt_fixed": nil, "opt_arr": nil, "opt_dec": nil, "opt_ts": nil,
		"u": map[string]any{"member0": "s", "member1": nil, "member2": nil, "member3": nil}, "u_null": nil, "arr_u": []any{},
		"e": "CLUBS", `"by"`: []byte{}, "uuid": "", "CAST(dur AS VARCHAR)": "00:00:00", "CAST(dec_bytes AS VARCHAR)": "0.000",
	}
	for row, cols := range []map[string]any{full, empty} {
		where := []string{"l <> 0", "l = 0"}[row]
		for expr, want := range cols {
			q := fmt.Sprintf("SELECT %s FROM %s WHERE %s", expr, from, where)
			if got := query1(t, db, q); !equal(got, want) {
				t.Errorf("row %d: %s = %#v, want %#v", row, expr, got, want)
			}
		}
	}
}
