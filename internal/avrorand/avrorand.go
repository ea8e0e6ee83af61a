// Package avrorand draws random values of an Avro schema in hamba/avro's
// generic representation: the shapes avro.Marshal accepts and avro.Unmarshal
// into a map[string]any returns (int for Avro int, int64 for long, []any,
// map[string]any, a union as nil, the plain value or map[string]any{branch
// name: value} (see plainUnion), *big.Rat for decimals, time.Time and
// time.Duration for the time types, [N]byte for fixed). A value it draws
// therefore compares equal to hamba's decoding of its encoding.
//
// It draws two kinds of values. Edge values (New) are for codec tests:
// extreme numbers, NaN, strings with NUL and multi-byte runes, times far
// from 1970 on both sides; the generator records what it drew (Seen), so
// a test can check that its values reached every union branch, non-empty
// collections, negative decimals and pre-1970 times (CoverageGoals).
// Plausible values (NewPlausible) are for sample records that a job's
// handler and its sinks take as real ones (streamgen dev): strings made of
// the field's name and a number (from a million for names ending in "id",
// else from a hundred, so that categories repeat), small non-negative numbers, times
// around now, decimals within their precision.
package avrorand

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hamba/avro/v2"
)

// Gen draws random values of Avro schemas. It is not safe for concurrent
// use.
type Gen struct {
	r         *rand.Rand
	plausible bool
	now       time.Time // plausible times are drawn around it
	maxDepth  int       // from this record nesting depth on, unions pick null and collections are empty
	maxKeys   int       // map sizes are drawn from [0, maxKeys]
	maxItems  int       // array sizes are drawn from [0, maxItems]
	seen      map[string]bool
}

// New returns a generator of edge values, seeded with seed, whose maps
// have at most maxKeys keys.
func New(seed uint64, maxKeys int) *Gen {
	return &Gen{
		r:        rand.New(rand.NewPCG(seed, 0x5eed)),
		maxDepth: 3,
		maxKeys:  maxKeys,
		maxItems: 4,
		seen:     map[string]bool{},
	}
}

// NewPlausible returns a generator of plausible values, seeded with seed,
// whose times are drawn within a minute before now.
func NewPlausible(seed uint64, now time.Time) *Gen {
	g := New(seed, 2)
	g.plausible, g.now, g.maxItems = true, now, 3
	return g
}

// Value draws a value of s.
func (g *Gen) Value(s avro.Schema) any { return g.value(s, "", 0) }

// Seen is what the values drawn so far reached, keyed as CoverageGoals
// lists the goals.
func (g *Gen) Seen() map[string]bool { return g.seen }

// cover records that the value at path had property what.
func (g *Gen) cover(path, what string) { g.seen[path+" "+what] = true }

func (g *Gen) value(s avro.Schema, path string, depth int) any {
	switch s := s.(type) {
	case *avro.RefSchema:
		return g.value(s.Schema(), path, depth)
	case *avro.RecordSchema:
		m := make(map[string]any, len(s.Fields()))
		for _, f := range s.Fields() {
			m[f.Name()] = g.value(f.Type(), joinPath(path, f.Name()), depth+1)
		}
		return m
	case *avro.UnionSchema:
		types := s.Types()
		i := g.r.IntN(len(types))
		if depth >= g.maxDepth {
			if n := slices.IndexFunc(types, func(t avro.Schema) bool { return t.Type() == avro.Null }); n >= 0 {
				i = n
			}
		}
		name := unionBranchName(types[i])
		g.cover(path, "branch "+name)
		if types[i].Type() == avro.Null {
			return nil
		}
		v := g.value(types[i], path, depth)
		if plainUnion(s) {
			return v
		}
		return map[string]any{name: v}
	case *avro.ArraySchema:
		n := g.size(g.maxItems, depth)
		g.coverSize(path, n)
		items := make([]any, n)
		for i := range items {
			items[i] = g.value(s.Items(), path+"[]", depth)
		}
		return items
	case *avro.MapSchema:
		n := g.size(g.maxKeys, depth)
		g.coverSize(path, n)
		m := make(map[string]any, n)
		for len(m) < n {
			key := g.string(6)
			if g.plausible {
				key = "key-" + strconv.Itoa(g.r.IntN(100))
			}
			m[key] = g.value(s.Values(), path+"{}", depth)
		}
		return m
	case *avro.EnumSchema:
		return s.Symbols()[g.r.IntN(len(s.Symbols()))]
	case *avro.FixedSchema:
		switch l := s.Logical().(type) {
		case *avro.DecimalLogicalSchema:
			return g.decimal(path, l.Precision(), l.Scale())
		case nil:
		default:
			if l.Type() == avro.Duration {
				if g.plausible {
					return avro.LogicalDuration{Days: uint32(g.r.IntN(30)), Milliseconds: uint32(g.r.IntN(86_400_000))}
				}
				return avro.LogicalDuration{Months: g.r.Uint32(), Days: g.r.Uint32(), Milliseconds: g.r.Uint32()}
			}
		}
		a := reflect.New(reflect.ArrayOf(s.Size(), reflect.TypeFor[byte]())).Elem()
		for i := range s.Size() {
			a.Index(i).SetUint(uint64(g.r.Uint32() & 0xff))
		}
		return a.Interface()
	case *avro.PrimitiveSchema:
		if g.plausible {
			return g.plausiblePrimitive(s, path)
		}
		return g.primitive(s, path)
	case *avro.NullSchema:
		return nil
	}
	panic(fmt.Sprintf("avrorand: unexpected schema %T at %q", s, path))
}

func (g *Gen) primitive(s *avro.PrimitiveSchema, path string) any {
	var logical avro.LogicalType
	if l := s.Logical(); l != nil {
		logical = l.Type()
		if d, ok := l.(*avro.DecimalLogicalSchema); ok {
			return g.decimal(path, d.Precision(), d.Scale())
		}
	}
	switch logical {
	case avro.Date:
		days := g.r.Int64N(200_000) - 100_000 // about 1696 to 2243
		g.coverTime(path, days)
		return time.Unix(days*86400, 0).UTC()
	case avro.TimeMillis:
		return time.Duration(g.r.Int64N(86_400_000)) * time.Millisecond
	case avro.TimeMicros:
		return time.Duration(g.r.Int64N(86_400_000_000)) * time.Microsecond
	case avro.TimestampMillis, avro.LocalTimestampMillis:
		ms := g.r.Int64N(8e12) - 4e12 // about 1843 to 2096
		g.coverTime(path, ms)
		return time.UnixMilli(ms).UTC()
	case avro.TimestampMicros, avro.LocalTimestampMicros:
		us := g.r.Int64N(8e15) - 4e15
		g.coverTime(path, us)
		return time.UnixMicro(us).UTC()
	case avro.UUID:
		return g.uuid()
	}
	switch s.Type() {
	case avro.Null:
		return nil
	case avro.Boolean:
		return g.r.IntN(2) == 1
	case avro.Int:
		return int(int32(g.integer(32)))
	case avro.Long:
		return g.integer(64)
	case avro.Float:
		return float32(g.float(math.MaxFloat32, math.SmallestNonzeroFloat32))
	case avro.Double:
		return g.float(math.MaxFloat64, math.SmallestNonzeroFloat64)
	case avro.String:
		return g.string(12)
	case avro.Bytes:
		b := make([]byte, g.r.IntN(12))
		for i := range b {
			b[i] = byte(g.r.Uint32())
		}
		return b
	}
	panic(fmt.Sprintf("avrorand: unexpected primitive %s at %q", s.Type(), path))
}

// plausiblePrimitive draws what a producer of real records might write:
// times within the last minute, small non-negative numbers (ids and
// counts, often repeated, so that grouping finds groups), and strings
// named after their field ("publisher_id-17").
func (g *Gen) plausiblePrimitive(s *avro.PrimitiveSchema, path string) any {
	if l := s.Logical(); l != nil {
		ago := time.Duration(g.r.Int64N(int64(time.Minute)))
		at := g.now.Add(-ago).UTC()
		switch l.Type() {
		case avro.Decimal:
			d := l.(*avro.DecimalLogicalSchema)
			return g.decimal(path, d.Precision(), d.Scale())
		case avro.Date:
			return at.Truncate(24 * time.Hour)
		case avro.TimeMillis:
			return time.Duration(g.r.Int64N(86_400_000)) * time.Millisecond
		case avro.TimeMicros:
			return time.Duration(g.r.Int64N(86_400_000_000)) * time.Microsecond
		case avro.TimestampMillis, avro.LocalTimestampMillis:
			return at.Truncate(time.Millisecond)
		case avro.TimestampMicros, avro.LocalTimestampMicros:
			return at.Truncate(time.Microsecond)
		case avro.UUID:
			return g.uuid()
		}
	}
	switch s.Type() {
	case avro.Null:
		return nil
	case avro.Boolean:
		return g.r.IntN(2) == 1
	case avro.Int:
		return g.r.IntN(1000)
	case avro.Long:
		return g.r.Int64N(1000)
	case avro.Float:
		return float32(g.r.IntN(10_000)) / 100
	case avro.Double:
		return float64(g.r.IntN(10_000)) / 100
	case avro.String:
		name := path[strings.LastIndex(path, ".")+1:]
		name = strings.TrimRight(name, "[]{}")
		if name == "" {
			name = "value"
		}
		// Identifiers are mostly distinct; other strings repeat, as
		// categories do.
		n := 100
		if strings.HasSuffix(strings.ToLower(name), "id") {
			n = 1_000_000
		}
		return name + "-" + strconv.Itoa(g.r.IntN(n))
	case avro.Bytes:
		b := make([]byte, 4+g.r.IntN(5))
		for i := range b {
			b[i] = byte(g.r.Uint32())
		}
		return b
	}
	panic(fmt.Sprintf("avrorand: unexpected primitive %s at %q", s.Type(), path))
}

func (g *Gen) uuid() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(g.r.Uint32())
	}
	if g.plausible { // a version 4, variant 1 UUID, as generators write them
		b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// size draws a collection size in [0, max], or 0 from maxDepth on, so that
// values of recursive schemas stay finite.
func (g *Gen) size(max, depth int) int {
	if depth >= g.maxDepth || max == 0 {
		return 0
	}
	return g.r.IntN(max + 1)
}

func (g *Gen) coverSize(path string, n int) {
	switch {
	case n == 0:
		g.cover(path, "empty")
	case n > 1:
		g.cover(path, "several")
		fallthrough
	default:
		g.cover(path, "non-empty")
	}
}

func (g *Gen) coverTime(path string, sinceEpoch int64) {
	if sinceEpoch < 0 {
		g.cover(path, "pre-1970")
	} else {
		g.cover(path, "post-1970")
	}
}

// integer draws a signed integer of the given width, often an edge value:
// zero, a varint length boundary or the extremes.
func (g *Gen) integer(bits int) int64 {
	if g.r.IntN(4) == 0 {
		edges := []int64{0, -1, 1, 63, -64, 64, -65, 8191, -8192, 8192}
		if bits == 32 {
			edges = append(edges, math.MaxInt32, math.MinInt32)
		} else {
			edges = append(edges, math.MaxInt64, math.MinInt64, math.MaxInt32+1, math.MinInt32-1)
		}
		return edges[g.r.IntN(len(edges))]
	}
	v := int64(g.r.Uint64() >> (64 - g.r.IntN(bits-1) - 1)) // [0, 2^(bits-1))
	if g.r.IntN(2) == 0 {
		v = -v - 1
	}
	return v
}

// float draws a float of any magnitude, often an edge value.
func (g *Gen) float(max, smallest float64) float64 {
	if g.r.IntN(4) == 0 {
		edges := []float64{0, math.Copysign(0, -1), 1, -1, max, -max, smallest, math.Inf(1), math.Inf(-1), math.NaN()}
		return edges[g.r.IntN(len(edges))]
	}
	return g.r.NormFloat64() * math.Pow(10, float64(g.r.IntN(21)-10))
}

var stringRunes = []rune("abcxyzABCXYZ019 _-.\x00\téß日本語🙂")

func (g *Gen) string(maxLen int) string {
	var b strings.Builder
	for range g.r.IntN(maxLen + 1) {
		b.WriteRune(stringRunes[g.r.IntN(len(stringRunes))])
	}
	return b.String()
}

// decimal draws a value with up to precision digits, scale of them after
// the point: half of them negative, or for plausible values non-negative
// with at most four digits before the point.
func (g *Gen) decimal(path string, precision, scale int) *big.Rat {
	digits := precision
	if g.plausible {
		digits = min(precision, scale+4)
	}
	for {
		u := new(big.Int)
		for range 1 + g.r.IntN(digits) {
			u.Mul(u, big.NewInt(10))
			u.Add(u, big.NewInt(g.r.Int64N(10)))
		}
		if !g.plausible && g.r.IntN(2) == 0 {
			u.Neg(u)
		}
		if hambaNonMinimal(u) {
			continue
		}
		if u.Sign() < 0 {
			g.cover(path, "negative")
		}
		return new(big.Rat).SetFrac(u, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil))
	}
}

// hambaNonMinimal reports whether hamba/avro encodes the unscaled decimal u in
// more bytes than its shortest two's complement form: it writes -2^(8k-1)
// (-128, -32768, ...) with a redundant leading 0xff. Both forms are valid Avro
// and the generated decoder reads both (see TestDecodeNonMinimalDecimal), but
// they cannot be compared byte for byte.
func hambaNonMinimal(u *big.Int) bool {
	if u.Sign() >= 0 {
		return false
	}
	a := new(big.Int).Neg(u)
	return a.BitLen()%8 == 0 && new(big.Int).And(a, new(big.Int).Sub(a, big.NewInt(1))).Sign() == 0
}

// unionBranchName is the key hamba uses for a union branch in its generic
// representation: the full name of a named type, else the type and logical type.
func unionBranchName(s avro.Schema) string {
	if r, ok := s.(*avro.RefSchema); ok {
		s = r.Schema()
	}
	if n, ok := s.(avro.NamedSchema); ok {
		return n.FullName()
	}
	name := string(s.Type())
	if l, ok := s.(avro.LogicalTypeSchema); ok && l.Logical() != nil {
		name += "." + string(l.Logical().Type())
	}
	return name
}

var hambaTypes = avro.NewTypeResolver()

// plainUnion reports whether hamba decodes a value of the union u to the
// branch's plain value rather than to map[string]any{branch name: value}: it
// does when its type resolver knows every branch (null, the primitives and
// some logical types), so not for unions of named types, arrays or maps.
func plainUnion(u *avro.UnionSchema) bool {
	for _, t := range u.Types() {
		if _, err := hambaTypes.Type(unionBranchName(t)); err != nil {
			return false
		}
	}
	return true
}

func joinPath(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// CoverageGoals lists the labels (keys of Seen) that random edge values of
// the record s should all reach: every union branch, empty and non-empty
// collections (and several map keys when maxKeys > 1), negative decimals
// and times on both sides of 1970. Named types are expanded once, so
// recursion ends.
func CoverageGoals(s avro.Schema, maxKeys int) []string {
	var goals []string
	expanded := map[string]bool{}
	var walk func(s avro.Schema, path string)
	walk = func(s avro.Schema, path string) {
		if r, ok := s.(*avro.RefSchema); ok {
			s = r.Schema()
		}
		if n, ok := s.(avro.NamedSchema); ok {
			if expanded[n.FullName()] {
				return
			}
			expanded[n.FullName()] = true
			defer delete(expanded, n.FullName())
		}
		switch s := s.(type) {
		case *avro.RecordSchema:
			for _, f := range s.Fields() {
				walk(f.Type(), joinPath(path, f.Name()))
			}
		case *avro.UnionSchema:
			for _, t := range s.Types() {
				goals = append(goals, path+" branch "+unionBranchName(t))
				walk(t, path)
			}
		case *avro.ArraySchema:
			goals = append(goals, path+" empty", path+" non-empty")
			walk(s.Items(), path+"[]")
		case *avro.MapSchema:
			goals = append(goals, path+" empty", path+" non-empty")
			if maxKeys > 1 {
				goals = append(goals, path+" several")
			}
			walk(s.Values(), path+"{}")
		case *avro.FixedSchema:
			if _, ok := s.Logical().(*avro.DecimalLogicalSchema); ok {
				goals = append(goals, path+" negative")
			}
		case *avro.PrimitiveSchema:
			if s.Logical() == nil {
				return
			}
			switch s.Logical().Type() {
			case avro.Decimal:
				goals = append(goals, path+" negative")
			case avro.Date, avro.TimestampMillis, avro.TimestampMicros, avro.LocalTimestampMillis, avro.LocalTimestampMicros:
				goals = append(goals, path+" pre-1970", path+" post-1970")
			}
		}
	}
	walk(s, "")
	return goals
}
