package sink

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/hamba/avro/v2"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"

	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/codec"
)

// Parquet files from Avro records. The column layout is the record's
// Avro schema (the job's reader schema), as data teams' tools expect it:
//
//	Avro                      Parquet
//	record                    group (fields in the file sorted by name)
//	array<T>                  LIST: group { repeated group list { element } }
//	map<T>                    MAP: group { repeated group key_value { key, value } }
//	["null", T]               optional T
//	other unions              group of optional member0, member1, ... (Spark's
//	                          names; optional when the union has null)
//	enum                      ENUM (a string)
//	decimal (bytes, fixed)    DECIMAL(precision, scale), the same two's
//	                          complement bytes (PLAIN encoded)
//	timestamp-millis/micros   TIMESTAMP(MILLIS/MICROS, adjusted to UTC);
//	                          local-timestamp-* not adjusted
//	date, time-millis/micros  DATE, TIME
//	uuid                      UUID for a fixed(16); a uuid string stays
//	                          STRING, as parquet-avro writes it
//	duration (fixed(12))      INTERVAL, the same 12 bytes
//	string, bytes, fixed      STRING, BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY
//	null                      no column (Parquet has no null type)
//
// Values are shredded straight from their Avro binary encoding (what
// generated records append), so the one encoder of each record serves
// both formats.

type pqKind int

const (
	pqLeaf pqKind = iota
	pqRecord
	pqList
	pqMap
	pqOptional // ["null", T] or [T, "null"]
	pqUnion    // a group of optional branches, itself optional with a null branch
	pqNull     // a null-typed field: nothing to store
)

// pqNode is one node of a record's Parquet layout, able to shred the
// Avro binary of its value into column values.
type pqNode struct {
	kind     pqKind
	children []*pqNode // record fields, list element, map key and value, optional's value, union branches
	// nullAt is the union index of null (pqOptional, pqUnion), -1 if none.
	nullAt int
	// branch maps a union index to its child, -1 for null (pqUnion).
	branch []int
	rep    int // the repetition level of a list's or map's entries
	col    int // a leaf's column
	leaf   pqLeafKind
	size   int      // a fixed leaf's size
	syms   [][]byte // an enum leaf's symbols
	leaves []int    // every column under the node
	path   []string
}

// pqLeafKind is how a leaf's value is read from its Avro binary.
type pqLeafKind uint8

const (
	pqBytes pqLeafKind = iota // bytes or string: a view of the binary
	pqBool
	pqInt
	pqLong
	pqFloat
	pqDouble
	pqFixed // a view of the binary
	pqEnum  // the symbol's name
)

// pqLayout is a record's Parquet schema and the tree that fills it.
type pqLayout struct {
	schema *parquet.Schema
	root   *pqNode
	ncols  int
}

// newPQLayout builds the Parquet layout of an Avro record schema.
func newPQLayout(schemaJSON string) (*pqLayout, error) {
	sch, err := avro.ParseWithCache(schemaJSON, "", &avro.SchemaCache{})
	if err != nil {
		return nil, err
	}
	rec, ok := sch.(*avro.RecordSchema)
	if !ok {
		return nil, fmt.Errorf("parquet: the schema is a %s, want a record", sch.Type())
	}
	b := pqBuilder{open: map[string]bool{}}
	root, node, err := b.node(rec, nil, 0)
	if err != nil {
		return nil, err
	}
	l := &pqLayout{schema: parquet.NewSchema(rec.Name(), node), root: root}
	var assign func(n *pqNode) error
	assign = func(n *pqNode) error {
		if n.kind == pqLeaf {
			lc, ok := l.schema.Lookup(n.path...)
			if !ok {
				return fmt.Errorf("parquet: no column %s in the schema built", strings.Join(n.path, "."))
			}
			if lc.MaxRepetitionLevel > parquet.MaxRepetitionLevel || lc.MaxDefinitionLevel > parquet.MaxDefinitionLevel || lc.ColumnIndex > parquet.MaxColumnIndex {
				return fmt.Errorf("parquet: column %s nests too deep", strings.Join(n.path, "."))
			}
			n.col = lc.ColumnIndex
			n.leaves = []int{n.col}
			l.ncols++
			return nil
		}
		n.leaves = nil
		for _, c := range n.children {
			if err := assign(c); err != nil {
				return err
			}
			n.leaves = append(n.leaves, c.leaves...)
		}
		return nil
	}
	if err := assign(root); err != nil {
		return nil, err
	}
	return l, nil
}

type pqBuilder struct {
	open map[string]bool // records being built, to refuse recursion
}

func (b *pqBuilder) node(s avro.Schema, path []string, rep int) (*pqNode, parquet.Node, error) {
	path = path[:len(path):len(path)]
	if ref, ok := s.(*avro.RefSchema); ok {
		s = ref.Schema()
	}
	if s.Type() == avro.Null {
		return &pqNode{kind: pqNull, path: path}, nil, nil
	}
	switch s := s.(type) {
	case *avro.RecordSchema:
		if b.open[s.FullName()] {
			return nil, nil, fmt.Errorf("parquet: record %s contains itself; Parquet has no recursive types", s.FullName())
		}
		b.open[s.FullName()] = true
		defer delete(b.open, s.FullName())
		n := &pqNode{kind: pqRecord, path: path}
		g := parquet.Group{}
		for _, f := range s.Fields() {
			c, pn, err := b.node(f.Type(), append(path, f.Name()), rep)
			if err != nil {
				return nil, nil, err
			}
			n.children = append(n.children, c)
			if pn != nil {
				g[f.Name()] = pn
			}
		}
		if len(g) == 0 {
			return nil, nil, fmt.Errorf("parquet: record %s has no field Parquet can store", s.FullName())
		}
		return n, g, nil
	case *avro.ArraySchema:
		c, pn, err := b.node(s.Items(), append(path, "list", "element"), rep+1)
		if err != nil {
			return nil, nil, err
		}
		if pn == nil {
			return nil, nil, fmt.Errorf("parquet: %s: an array of nulls", strings.Join(path, "."))
		}
		return &pqNode{kind: pqList, path: path, rep: rep + 1, children: []*pqNode{c}}, parquet.List(pn), nil
	case *avro.MapSchema:
		k := &pqNode{kind: pqLeaf, path: append(path, "key_value", "key"), leaf: pqBytes}
		v, pn, err := b.node(s.Values(), append(path, "key_value", "value"), rep+1)
		if err != nil {
			return nil, nil, err
		}
		if pn == nil {
			return nil, nil, fmt.Errorf("parquet: %s: a map of nulls", strings.Join(path, "."))
		}
		return &pqNode{kind: pqMap, path: path, rep: rep + 1, children: []*pqNode{k, v}}, parquet.Map(parquet.String(), pn), nil
	case *avro.UnionSchema:
		return b.union(s, path, rep)
	case *avro.EnumSchema:
		var syms [][]byte
		for _, sym := range s.Symbols() {
			syms = append(syms, []byte(sym))
		}
		return &pqNode{kind: pqLeaf, path: path, leaf: pqEnum, syms: syms}, parquet.Enum(), nil
	case *avro.FixedSchema:
		return fixedLeaf(s, path)
	case *avro.PrimitiveSchema:
		return primitiveLeaf(s, path)
	}
	return nil, nil, fmt.Errorf("parquet: %s: Avro type %s has no Parquet column", strings.Join(path, "."), s.Type())
}

func (b *pqBuilder) union(s *avro.UnionSchema, path []string, rep int) (*pqNode, parquet.Node, error) {
	types := s.Types()
	nullAt := -1
	var others []int
	for i, t := range types {
		if t.Type() == avro.Null {
			nullAt = i
		} else {
			others = append(others, i)
		}
	}
	if len(others) == 0 {
		return &pqNode{kind: pqNull, path: path}, nil, nil
	}
	if len(others) == 1 && nullAt >= 0 {
		c, pn, err := b.node(types[others[0]], path, rep)
		if err != nil {
			return nil, nil, err
		}
		return &pqNode{kind: pqOptional, path: path, nullAt: nullAt, children: []*pqNode{c}}, parquet.Optional(pn), nil
	}
	n := &pqNode{kind: pqUnion, path: path, nullAt: nullAt, branch: make([]int, len(types))}
	g := parquet.Group{}
	for i := range types {
		n.branch[i] = -1
	}
	for k, i := range others {
		name := "member" + strconv.Itoa(k)
		c, pn, err := b.node(types[i], append(path, name), rep)
		if err != nil {
			return nil, nil, err
		}
		n.branch[i] = len(n.children)
		n.children = append(n.children, c)
		g[name] = parquet.Optional(pn)
	}
	if nullAt >= 0 {
		return n, parquet.Optional(g), nil
	}
	return n, g, nil
}

func fixedLeaf(s *avro.FixedSchema, path []string) (*pqNode, parquet.Node, error) {
	size := s.Size()
	n := &pqNode{kind: pqLeaf, path: path, leaf: pqFixed, size: size}
	typ := parquet.FixedLenByteArrayType(size)
	if l := s.Logical(); l != nil {
		switch l.Type() {
		case avro.Decimal:
			dl := l.(*avro.DecimalLogicalSchema)
			return n, parquet.Decimal(dl.Scale(), dl.Precision(), typ), nil
		case avro.UUID:
			if size == 16 {
				return n, parquet.UUID(), nil
			}
		case avro.Duration:
			// The same 12 bytes (months, days, milliseconds, each a
			// little-endian uint32) as Parquet's INTERVAL.
			if size == 12 {
				return n, parquet.IntervalNode(), nil
			}
		}
	}
	return n, parquet.Leaf(typ), nil
}

func primitiveLeaf(s *avro.PrimitiveSchema, path []string) (*pqNode, parquet.Node, error) {
	n := &pqNode{kind: pqLeaf, path: path}
	var logical avro.LogicalType
	if l := s.Logical(); l != nil {
		logical = l.Type()
	}
	switch s.Type() {
	case avro.Boolean:
		n.leaf = pqBool
		return n, parquet.Leaf(parquet.BooleanType), nil
	case avro.Int:
		n.leaf = pqInt
		switch logical {
		case avro.Date:
			return n, parquet.Date(), nil
		case avro.TimeMillis:
			return n, parquet.Time(parquet.Millisecond), nil
		}
		return n, parquet.Int(32), nil
	case avro.Long:
		n.leaf = pqLong
		switch logical {
		case avro.TimestampMillis:
			return n, parquet.Timestamp(parquet.Millisecond), nil
		case avro.TimestampMicros:
			return n, parquet.Timestamp(parquet.Microsecond), nil
		case avro.LocalTimestampMillis:
			return n, parquet.TimestampAdjusted(parquet.Millisecond, false), nil
		case avro.LocalTimestampMicros:
			return n, parquet.TimestampAdjusted(parquet.Microsecond, false), nil
		case avro.TimeMicros:
			return n, parquet.Time(parquet.Microsecond), nil
		}
		return n, parquet.Int(64), nil
	case avro.Float:
		n.leaf = pqFloat
		return n, parquet.Leaf(parquet.FloatType), nil
	case avro.Double:
		n.leaf = pqDouble
		return n, parquet.Leaf(parquet.DoubleType), nil
	case avro.Bytes:
		n.leaf = pqBytes
		if logical == avro.Decimal {
			dl := s.Logical().(*avro.DecimalLogicalSchema)
			// PLAIN, not parquet-go's default DELTA_LENGTH_BYTE_ARRAY,
			// which readers such as DuckDB accept only for strings and
			// blobs: DuckDB cannot read a DECIMAL column written so.
			return n, parquet.Encoded(parquet.Decimal(dl.Scale(), dl.Precision(), parquet.ByteArrayType), &parquet.Plain), nil
		}
		return n, parquet.Leaf(parquet.ByteArrayType), nil
	case avro.String:
		// A uuid string stays a STRING, as parquet-avro writes it by
		// default: Avro does not check that the text is a uuid, and a
		// value Parquet's 16-byte UUID cannot hold must not stop the job.
		n.leaf = pqBytes // a string's encoding is its bytes'
		return n, parquet.String(), nil
	}
	return nil, nil, fmt.Errorf("parquet: %s: Avro type %s has no Parquet column", strings.Join(path, "."), s.Type())
}

// shredder turns records' Avro binary into Parquet column values: each
// column's values of the pending records, in record order, which go to
// the column's writer as whole rows (parquetEncoder.flushRows).
type shredder struct {
	l *pqLayout
	// cols holds each column's values of the records shredded since the
	// last reset; mark their lengths before the record being shredded,
	// to drop a record that fails half way.
	cols [][]parquet.Value
	mark []int
	dec  codec.Decoder
	src  []byte // the record being shredded
}

func (s *shredder) emit(col int, v parquet.Value, r, d int) {
	// Level's result stored straight into the slice, not built aside
	// and copied by append: the copy, a 16-byte load of a value just
	// stored a byte at a time, stalls the CPU on every value.
	c := s.cols[col]
	n := len(c)
	if n == cap(c) {
		c = slices.Grow(c, 1)
	}
	c = c[:n+1]
	if pqLevelsInPlace {
		// Level itself stalls the same way, on its own copies: three
		// stores into the value in place cost a fraction of it.
		// Field by field: a copy of the whole value would stall again.
		m, from := (*pqValue)(unsafe.Pointer(&c[n])), (*pqValue)(unsafe.Pointer(&v))
		m.ptr, m.u64, m.kind = from.ptr, from.u64, from.kind
		m.rep, m.def, m.col = byte(r), byte(d), ^uint16(col)
	} else {
		c[n] = v.Level(r, d, col)
	}
	s.cols[col] = c
}

// pqValue is parquet.Value's memory layout (parquet-go v0.32.1), to set
// a value's levels and column where it lies, as Value.Level does to a
// copy. newPQLayout keeps levels and columns within Level's bounds.
type pqValue struct {
	ptr  *byte
	u64  uint64
	kind int8
	def  byte
	rep  byte
	col  uint16 // the column index's complement
}

// pqLevelsInPlace is whether pqValue is parquet.Value's layout: values
// of every kind with levels set both ways are compared, so that a
// parquet-go whose Value differs falls back to Level (slower, as
// correct); TestParquetLevelsInPlace fails then, to say so.
var pqLevelsInPlace = func() bool {
	if unsafe.Sizeof(pqValue{}) != unsafe.Sizeof(parquet.Value{}) || unsafe.Alignof(pqValue{}) != unsafe.Alignof(parquet.Value{}) {
		return false
	}
	b := []byte("abcd")
	for _, v := range []parquet.Value{parquet.NullValue(), parquet.BooleanValue(true), parquet.Int32Value(-3), parquet.Int64Value(-1 << 40),
		parquet.FloatValue(1.5), parquet.DoubleValue(-2.25), parquet.ByteArrayValue(b), parquet.FixedLenByteArrayValue(b[1:])} {
		for _, l := range [][3]int{{0, 0, 0}, {1, 2, 3}, {3, 7, 1000}, {parquet.MaxRepetitionLevel, parquet.MaxDefinitionLevel, parquet.MaxColumnIndex}} {
			want := v.Level(l[0], l[1], l[2])
			var got parquet.Value
			m, from := (*pqValue)(unsafe.Pointer(&got)), (*pqValue)(unsafe.Pointer(&v))
			m.ptr, m.u64, m.kind = from.ptr, from.u64, from.kind
			m.rep, m.def, m.col = byte(l[0]), byte(l[1]), ^uint16(l[2])
			if got != want || got.RepetitionLevel() != l[0] || got.DefinitionLevel() != l[1] || got.Column() != l[2] ||
				got.Kind() != v.Kind() || got.IsNull() != v.IsNull() || got.Int64() != v.Int64() {
				return false
			}
			if k := v.Kind(); (k == parquet.ByteArray || k == parquet.FixedLenByteArray) && !bytes.Equal(got.ByteArray(), v.ByteArray()) {
				return false
			}
		}
	}
	return true
}()

func (s *shredder) nulls(n *pqNode, r, d int) {
	for _, c := range n.leaves {
		s.emit(c, parquet.NullValue(), r, d)
	}
}

// shred appends one record's values, from its Avro binary, to the
// columns; on error it appends nothing.
func (s *shredder) shred(src []byte) error {
	if s.cols == nil {
		s.cols = make([][]parquet.Value, s.l.ncols)
		s.mark = make([]int, s.l.ncols)
	}
	for i, c := range s.cols {
		s.mark[i] = len(c)
	}
	s.src = src
	s.dec.Reset(src)
	err := s.value(s.l.root, &s.dec, 0, 0)
	if err == nil {
		err = s.dec.Finish()
	}
	s.src = nil
	if err != nil {
		for i, n := range s.mark {
			s.cols[i] = s.cols[i][:n]
		}
	}
	return err
}

// reset empties the columns, keeping their arrays.
func (s *shredder) reset() {
	for i := range s.cols {
		s.cols[i] = s.cols[i][:0]
	}
}

// leaf shreds a leaf's value.
func (s *shredder) leaf(n *pqNode, dec *codec.Decoder, r, d int) error {
	// Byte arrays are views of the record's binary: the encoder keeps
	// that binary until parquet-go has copied the values
	// (parquetEncoder.flushRows).
	var v parquet.Value
	switch n.leaf {
	case pqBytes:
		v = parquet.ByteArrayValue(dec.BytesView())
	case pqBool:
		v = parquet.BooleanValue(dec.Bool())
	case pqInt:
		v = parquet.Int32Value(dec.Int())
	case pqLong:
		v = parquet.Int64Value(dec.Long())
	case pqFloat:
		v = parquet.FloatValue(dec.Float())
	case pqDouble:
		v = parquet.DoubleValue(dec.Double())
	case pqFixed:
		if at := dec.Offset(); at+n.size <= len(s.src) {
			v = parquet.FixedLenByteArrayValue(s.src[at : at+n.size : at+n.size])
		}
		dec.SkipFixed(n.size)
	case pqEnum:
		if i := dec.Enum(len(n.syms)); dec.Err() == nil {
			v = parquet.ByteArrayValue(n.syms[i])
		}
	}
	if err := dec.Err(); err != nil {
		return n.failed(err)
	}
	s.emit(n.col, v, r, d)
	return nil
}

// failed is err, reading n's value, with n's path.
func (n *pqNode) failed(err error) error {
	return fmt.Errorf("%s: %w", strings.Join(n.path, "."), err)
}

// value shreds n's value: r is the repetition level of the first value
// each column gets, d the definition level of n's parent.
func (s *shredder) value(n *pqNode, dec *codec.Decoder, r, d int) error {
	switch n.kind {
	case pqNull:
		return nil
	case pqLeaf:
		return s.leaf(n, dec, r, d)
	case pqRecord:
		for _, c := range n.children {
			var err error
			if c.kind == pqLeaf { // most fields: no call through value's big frame
				err = s.leaf(c, dec, r, d)
			} else {
				err = s.value(c, dec, r, d)
			}
			if err != nil {
				return err
			}
		}
	case pqOptional:
		if dec.UnionIndex(2) == n.nullAt {
			s.nulls(n, r, d)
			return dec.Err()
		}
		return s.value(n.children[0], dec, r, d+1)
	case pqUnion:
		i := dec.UnionIndex(len(n.branch))
		if err := dec.Err(); err != nil {
			return err
		}
		if i == n.nullAt {
			s.nulls(n, r, d)
			return nil
		}
		if n.nullAt >= 0 {
			d++
		}
		for j, c := range n.children {
			if j != n.branch[i] {
				s.nulls(c, r, d)
				continue
			}
			if err := s.value(c, dec, r, d+1); err != nil {
				return err
			}
		}
	case pqList, pqMap:
		first := true
		for {
			cnt := dec.BlockCount(0)
			if err := dec.Err(); err != nil {
				return err
			}
			if cnt == 0 {
				break
			}
			for range cnt {
				ri := n.rep
				if first {
					ri, first = r, false
				}
				for _, c := range n.children {
					if err := s.value(c, dec, ri, d+1); err != nil {
						return err
					}
				}
			}
		}
		if first { // empty: the group is there, with no entry
			s.nulls(n, r, d)
		}
	}
	return dec.Err()
}

// parquetEncoder writes one partition's values as a Parquet file.
type parquetEncoder[T any, PT codec.RecordPtr[T]] struct {
	w  *parquet.Writer
	sh shredder
	// Records wait here, shredded into columns, and go to the writer's
	// column writers pqBatch at a time: parquet-go's cost per write is
	// per column, several times a record's own. src holds the pending
	// records' Avro binary, which their byte-array values point into;
	// pending counts them.
	src     []byte
	pending int
	// rows and group are the rows and the Avro size of the row group's
	// values so far, pending ones included; at rowGroup rows or at max
	// bytes (when set) the group ends. Written column by column, the
	// rows bypass parquet-go's own count of a group's rows
	// (MaxRowsPerRowGroup), so the encoder ends groups itself.
	rows, rowGroup int64
	group, max     int64
}

// pqBatch is how many records an encoder gives parquet-go at once, and
// pqBatchBytes how much of their Avro binary at most: a column writer
// ends a page only between two writes, so a write's size bounds how far
// a page can exceed parquet-go's page buffer.
const (
	pqBatch      = 256
	pqBatchBytes = 64 << 10
)

func newParquetEncoder[T any, PT codec.RecordPtr[T]](l *pqLayout, out io.Writer, cfg blobCfg, r runtime.OffsetRange) *parquetEncoder[T, PT] {
	var c compress.Codec = &parquet.Snappy
	switch cfg.compression {
	case "zstd":
		c = &parquet.Zstd
	case "none":
		c = &parquet.Uncompressed
	}
	w := parquet.NewWriter(out, l.schema, parquet.Compression(c), parquet.MaxRowsPerRowGroup(cfg.rowGroup),
		parquet.KeyValueMetadata("avro.schema", PT(new(T)).AvroSchema()),
		parquet.KeyValueMetadata("streamgen.topic", r.Topic),
		parquet.KeyValueMetadata("streamgen.partition", strconv.Itoa(int(r.Partition))),
		parquet.KeyValueMetadata("streamgen.from_offset", strconv.FormatInt(r.FromOffset, 10)))
	if r.UntilOffset > r.FromOffset { // a rolling file's end is not known when it opens
		w.SetKeyValueMetadata("streamgen.until_offset", strconv.FormatInt(r.UntilOffset, 10))
	}
	return &parquetEncoder[T, PT]{w: w, sh: shredder{l: l}, rowGroup: cfg.rowGroup, max: cfg.groupBytes}
}

func (e *parquetEncoder[T, PT]) write(v any) error {
	start := len(e.src)
	src, err := PT(v.(*T)).AppendAvro(e.src)
	if err != nil {
		return err
	}
	e.src = src
	return e.add(src[start:])
}

func (e *parquetEncoder[T, PT]) writeAvro(b []byte) error {
	start := len(e.src)
	e.src = append(e.src, b...)
	return e.add(e.src[start:])
}

// add shreds one value's Avro binary, held in e.src, into the pending
// columns. When e.src grows, the values before keep pointing into the
// array they were read from, which stays as it was until they are
// written.
func (e *parquetEncoder[T, PT]) add(b []byte) error {
	if err := e.sh.shred(b); err != nil {
		e.src = e.src[:len(e.src)-len(b)]
		return err
	}
	e.pending++
	e.rows++
	e.group += int64(len(b))
	if e.rows >= e.rowGroup || e.max > 0 && e.group >= e.max {
		return e.endGroup()
	}
	if e.pending >= pqBatch || len(e.src) >= pqBatchBytes {
		return e.flushRows()
	}
	return nil
}

// endGroup writes the pending rows and ends the row group.
func (e *parquetEncoder[T, PT]) endGroup() error {
	e.rows, e.group = 0, 0
	if err := e.flushRows(); err != nil {
		return err
	}
	return e.w.Flush()
}

// flushRows gives each column's pending values, whole rows, to the
// column's writer, which copies them.
func (e *parquetEncoder[T, PT]) flushRows() error {
	if e.pending == 0 {
		return nil
	}
	n := e.pending
	e.pending, e.src = 0, e.src[:0]
	defer e.sh.reset()
	for i, c := range e.w.ColumnWriters() {
		got, err := c.WriteRowValues(e.sh.cols[i])
		if err != nil {
			return err
		}
		if got != n { // every column must hold the same rows, or the file is corrupt
			return fmt.Errorf("parquet: column %d took %d rows, want %d", i, got, n)
		}
	}
	return nil
}

func (e *parquetEncoder[T, PT]) close() error {
	if err := e.flushRows(); err != nil {
		return err
	}
	return e.w.Close()
}

// setUntil records the end of a rolling file, known only when it closes,
// in the footer's metadata.
func (e *parquetEncoder[T, PT]) setUntil(until int64) {
	e.w.SetKeyValueMetadata("streamgen.until_offset", strconv.FormatInt(until, 10))
}
