package sink

import (
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/streamgen/streamgen/runtime/codec"
)

// Granularity is how finely a time partition splits records.
type Granularity string

// The time partitions: Day gives dt=YYYY-MM-DD/, Hour dt=YYYY-MM-DD/hour=HH/
// (UTC), the layout Hive, Spark, Trino and Athena prune by.
const (
	Day  Granularity = "day"
	Hour Granularity = "hour"
)

// hiveNull is Hive's name of the partition of records whose value is null.
const hiveNull = "__HIVE_DEFAULT_PARTITION__"

type partLevel struct {
	field string // dotted path from the record
	gran  Granularity
}

// PartitionByField adds a Hive partition level NAME=VALUE/ by a record
// field (dotted for a nested record's: "geo.country"), whose type is a
// string, an enum, an int, a long or a boolean, or one of these or null.
// Its values become directories: choose a field of few values (a country,
// a device type), since every value of a batch is an object of its own.
func PartitionByField(field string) BlobOpt {
	return func(c *blobCfg) { c.partitions = append(c.partitions, partLevel{field: field}) }
}

// PartitionByTime adds the Hive partition levels dt=YYYY-MM-DD/ (and
// hour=HH/ with Hour) by a record's timestamp field (timestamp-millis or
// -micros, local ones too; a date with Day), in UTC.
func PartitionByTime(field string, g Granularity) BlobOpt {
	return func(c *blobCfg) { c.partitions = append(c.partitions, partLevel{field: field, gran: g}) }
}

// BlobSettings are the options of the spec's blob sink settings:
// sink.format ("avro", "parquet"; "" is avro), sink.partitionBy, each
// level FIELD, FIELD:day or FIELD:hour, and the sink.roll limits (all
// zero: a file per batch; see BlobRoll). The generated Run calls it.
func BlobSettings(format string, partitionBy []string, roll RollLimits) ([]BlobOpt, error) {
	opts := []BlobOpt{BlobFormat(FormatAvro)}
	if roll != (RollLimits{}) {
		if roll.MaxRecords < 0 || roll.MaxBytes < 0 || roll.MaxOpen < 0 || roll.Lateness < 0 || roll.MaxOpenFiles < 0 {
			return nil, fmt.Errorf("blob sink: negative rolling limits %+v", roll)
		}
		opts = append(opts, BlobRoll(roll))
	}
	switch Format(format) {
	case "", FormatAvro:
	case FormatParquet:
		opts[0] = BlobFormat(FormatParquet)
	default:
		return nil, fmt.Errorf("blob sink: format %q, want avro or parquet", format)
	}
	for _, p := range partitionBy {
		field, gran, timed := strings.Cut(strings.TrimSpace(p), ":")
		switch {
		case field == "":
			return nil, fmt.Errorf("blob sink: partition level %q names no field", p)
		case !timed:
			opts = append(opts, PartitionByField(field))
		case Granularity(gran) == Day || Granularity(gran) == Hour:
			opts = append(opts, PartitionByTime(field, Granularity(gran)))
		default:
			return nil, fmt.Errorf("blob sink: partition level %q: %q is no granularity, want day or hour", p, gran)
		}
	}
	return opts, nil
}

// hivePartitioner gives a record's bucket: its K=V/ levels, from its Avro
// binary.
type hivePartitioner struct {
	root   *avro.RecordSchema
	levels []resolvedLevel
	// times caches each time level's recent directories, by their hour's
	// or day's number modulo timeSlots: records come in runs of a few
	// hours, which the writers of a batch's partitions, at once, go
	// through in turns, and formatting one costs more than the rest of
	// placing the record. One entry per level thrashed: a miss per few
	// records in a job of two hours on 12 partitions.
	times [][timeSlots]atomic.Pointer[timeDir]
}

// timeSlots is how many hours or days a time level caches.
const timeSlots = 8

// timeDir is a time level's directory for one hour or day: its number
// since the epoch (key), its dt=YYYY-MM-DD/[hour=HH/] and its end.
type timeDir struct {
	key  int64
	text string
	end  time.Time
}

type resolvedLevel struct {
	partLevel
	name  string
	steps []int // field indexes from the root to the field
	leaf  avro.Schema
	kind  string // "value", "millis", "micros", "date"
}

func newPartitioner(schemaJSON string, levels []partLevel) (*hivePartitioner, error) {
	if len(levels) == 0 {
		return nil, nil
	}
	sch, err := avro.ParseWithCache(schemaJSON, "", &avro.SchemaCache{})
	if err != nil {
		return nil, err
	}
	root, ok := sch.(*avro.RecordSchema)
	if !ok {
		return nil, fmt.Errorf("partitioning: the schema is not a record")
	}
	p := &hivePartitioner{root: root}
	for _, l := range levels {
		rl, err := resolveLevel(root, l)
		if err != nil {
			return nil, err
		}
		p.levels = append(p.levels, rl)
	}
	p.times = make([][timeSlots]atomic.Pointer[timeDir], len(p.levels))
	return p, nil
}

func resolveLevel(root *avro.RecordSchema, l partLevel) (resolvedLevel, error) {
	rl := resolvedLevel{partLevel: l}
	var cur avro.Schema = root
	parts := strings.Split(l.field, ".")
	for i, name := range parts {
		rec, ok := deref(cur).(*avro.RecordSchema)
		if !ok {
			return rl, fmt.Errorf("partitioning by %s: %s is not a record", l.field, strings.Join(parts[:i], "."))
		}
		found := -1
		for j, f := range rec.Fields() {
			if f.Name() == name {
				found, cur = j, f.Type()
			}
		}
		if found < 0 {
			return rl, fmt.Errorf("partitioning by %s: record %s has no field %s", l.field, rec.FullName(), name)
		}
		rl.steps = append(rl.steps, found)
	}
	rl.name, rl.leaf = parts[len(parts)-1], cur
	base := deref(cur)
	if u, ok := base.(*avro.UnionSchema); ok {
		if len(u.Types()) != 2 || !u.Nullable() {
			return rl, fmt.Errorf("partitioning by %s: a union other than [null, T]", l.field)
		}
		for _, t := range u.Types() {
			if t.Type() != avro.Null {
				base = deref(t)
			}
		}
	}
	logical := ""
	if ls, ok := base.(avro.LogicalTypeSchema); ok && ls.Logical() != nil {
		logical = string(ls.Logical().Type())
	}
	switch l.gran {
	case "":
		switch base.Type() {
		case avro.String, avro.Enum, avro.Int, avro.Long, avro.Boolean:
			rl.kind = "value"
			return rl, nil
		}
		return rl, fmt.Errorf("partitioning by %s: a %s field; want a string, enum, int, long or boolean", l.field, base.Type())
	case Day, Hour:
		switch {
		case base.Type() == avro.Long && strings.HasSuffix(logical, "timestamp-millis"):
			rl.kind = "millis"
		case base.Type() == avro.Long && strings.HasSuffix(logical, "timestamp-micros"):
			rl.kind = "micros"
		case base.Type() == avro.Int && logical == "date" && l.gran == Day:
			rl.kind = "date"
		default:
			return rl, fmt.Errorf("partitioning by %s at %s: a %s field; want a timestamp-millis or -micros long (or a date, by day)", l.field, l.gran, base.Type())
		}
		return rl, nil
	}
	return rl, fmt.Errorf("partitioning by %s: granularity %q, want day or hour", l.field, l.gran)
}

func deref(s avro.Schema) avro.Schema {
	if r, ok := s.(*avro.RefSchema); ok {
		return r.Schema()
	}
	return s
}

// bucket is the K=V/ levels of a record's Avro binary.
func (p *hivePartitioner) bucket(src []byte) (string, error) {
	b, _, _, err := p.bucketAt(src)
	return b, err
}

// bucketAt is bucket with the record's time and the end of its time
// bucket, by its first time level (both zero without one, or for a null
// time): what the rolling blob sink publishes a bucket's file by.
func (p *hivePartitioner) bucketAt(src []byte) (string, time.Time, time.Time, error) {
	var (
		b        strings.Builder
		at, till time.Time
		one      string // the only level's directory, without building
	)
	for i := range p.levels {
		l := &p.levels[i]
		d := codec.NewDecoder(src)
		v, err := l.read(p.root, &d)
		if err != nil {
			return "", at, till, fmt.Errorf("partitioning by %s: %w", l.field, err)
		}
		var dir string
		switch {
		case v == nil && l.kind == "value":
			dir = l.name + "=" + hiveNull + "/"
		case v == nil && l.gran == Hour:
			dir = "dt=" + hiveNull + "/hour=" + hiveNull + "/"
		case v == nil:
			dir = "dt=" + hiveNull + "/"
		case l.kind == "value":
			dir = l.name + "=" + hiveEscape(fmt.Sprint(v)) + "/"
		default:
			t, td := p.timeDir(i, v.(int64))
			dir = td.text
			if till.IsZero() {
				at, till = t, td.end
			}
		}
		if len(p.levels) == 1 {
			one = dir
		} else {
			b.WriteString(dir)
		}
	}
	if len(p.levels) == 1 {
		return one, at, till, nil
	}
	return b.String(), at, till, nil
}

// timeDir is the time of time level i's value n and its hour's or day's
// directory, from the level's cache when the last record's was the same.
func (p *hivePartitioner) timeDir(i int, n int64) (time.Time, *timeDir) {
	l := &p.levels[i]
	var t time.Time
	switch l.kind {
	case "millis":
		t = time.UnixMilli(n).UTC()
	case "micros":
		t = time.UnixMicro(n).UTC()
	case "date":
		t = codec.Date(int32(n))
	}
	span := int64(24 * 60 * 60)
	if l.gran == Hour {
		span = 60 * 60
	}
	sec := t.Unix()
	key := sec / span
	if sec%span < 0 {
		key-- // floor, before 1970
	}
	slot := &p.times[i][uint64(key)%timeSlots]
	if td := slot.Load(); td != nil && td.key == key {
		return t, td
	}
	start := time.Unix(key*span, 0).UTC()
	td := &timeDir{key: key, text: "dt=" + start.Format("2006-01-02") + "/", end: start.Add(time.Duration(span) * time.Second)}
	if l.gran == Hour {
		td.text += fmt.Sprintf("hour=%02d/", start.Hour())
	}
	slot.Store(td)
	return t, td
}

// read walks the record's binary to the level's field and reads it:
// string, int64, bool, or nil for null.
func (l *resolvedLevel) read(root *avro.RecordSchema, d *codec.Decoder) (any, error) {
	rec := root
	for i, idx := range l.steps {
		fields := rec.Fields()
		for _, f := range fields[:idx] {
			skipAvro(f.Type(), d)
		}
		if i < len(l.steps)-1 {
			t := deref(fields[idx].Type())
			if u, ok := t.(*avro.UnionSchema); ok { // an optional record on the way
				j := d.UnionIndex(len(u.Types()))
				if d.Err() != nil {
					return nil, d.Err()
				}
				if u.Types()[j].Type() == avro.Null {
					return nil, nil
				}
				t = deref(u.Types()[j])
			}
			rec = t.(*avro.RecordSchema)
		}
	}
	s := deref(l.leaf)
	if u, ok := s.(*avro.UnionSchema); ok {
		j := d.UnionIndex(2)
		if d.Err() != nil {
			return nil, d.Err()
		}
		if u.Types()[j].Type() == avro.Null {
			return nil, nil
		}
		s = deref(u.Types()[j])
	}
	var v any
	switch s.Type() {
	case avro.String:
		v = d.String()
	case avro.Enum:
		syms := s.(*avro.EnumSchema).Symbols()
		i := d.Enum(len(syms))
		if d.Err() == nil {
			v = syms[i]
		}
	case avro.Int:
		v = int64(d.Int())
	case avro.Long:
		v = d.Long()
	case avro.Boolean:
		v = d.Bool()
	}
	return v, d.Err()
}

// skipAvro reads past one value of s.
func skipAvro(s avro.Schema, d *codec.Decoder) {
	s = deref(s)
	switch s := s.(type) {
	case *avro.RecordSchema:
		for _, f := range s.Fields() {
			skipAvro(f.Type(), d)
		}
	case *avro.UnionSchema:
		i := d.UnionIndex(len(s.Types()))
		if d.Err() == nil {
			skipAvro(s.Types()[i], d)
		}
	case *avro.ArraySchema:
		for n := d.SkipBlock(0); n != 0 && d.Err() == nil; n = d.SkipBlock(0) {
			for range max(n, 0) {
				skipAvro(s.Items(), d)
			}
		}
	case *avro.MapSchema:
		for n := d.SkipBlock(0); n != 0 && d.Err() == nil; n = d.SkipBlock(0) {
			for range max(n, 0) {
				d.SkipBytes()
				skipAvro(s.Values(), d)
			}
		}
	case *avro.EnumSchema:
		d.Int()
	case *avro.FixedSchema:
		d.SkipFixed(s.Size())
	default:
		switch s.Type() {
		case avro.Boolean:
			d.Bool()
		case avro.Int:
			d.Int()
		case avro.Long:
			d.Long()
		case avro.Float:
			d.Float()
		case avro.Double:
			d.Double()
		case avro.Bytes, avro.String:
			d.SkipBytes()
		}
	}
}

// hiveEscape escapes a partition value as Hive does: the characters
// that would break a path or a K=V pair become %XX.
func hiveEscape(v string) string {
	if v == "" {
		return hiveNull
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 || c == 0x7f || strings.IndexByte("\"#%'*/:=?\\{[]^", c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
