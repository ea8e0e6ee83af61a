package codec

import (
	"fmt"
	"strings"

	"github.com/hamba/avro/v2"
)

// builder compiles a writer/reader schema pair into a tree of ops. It walks
// hamba's parsed schemas itself: hamba's own resolver does not terminate on
// recursive records.
type builder struct {
	all   CompatErrors // every incompatibility, in discovery order
	fatal CompatErrors // those that make the writer unreadable

	recs  map[[2]avro.Schema]*recNode // record pairs, so recursion terminates
	skips map[avro.Schema]*recNode    // writer records to skip
	sizes map[avro.Schema]int         // minimum encoded size of writer records
}

type recNode struct {
	call op // guards depth, then runs run
	run  op
}

func newBuilder() *builder {
	return &builder{
		recs:  map[[2]avro.Schema]*recNode{},
		skips: map[avro.Schema]*recNode{},
		sizes: map[avro.Schema]int{},
	}
}

// incompatible records a problem that makes every datum unreadable.
func (b *builder) incompatible(path, format string, args ...any) {
	e := &ResolveError{Path: path, Reason: fmt.Sprintf(format, args...)}
	b.all = append(b.all, e)
	b.fatal = append(b.fatal, e)
}

// conditional records a problem that only affects data holding a particular
// value (an enum symbol, a union branch); ForWriter accepts it and such
// data fails when read.
func (b *builder) conditional(path, format string, args ...any) {
	b.all = append(b.all, &ResolveError{Path: path, Reason: fmt.Sprintf(format, args...)})
}

func deref(s avro.Schema) avro.Schema {
	if r, ok := s.(*avro.RefSchema); ok {
		return r.Schema()
	}
	return s
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func noop(*xstate) {}

// build compiles reading w as r. When it records an incompatible problem the
// returned op must not run (the whole program is discarded).
func (b *builder) build(path string, w, r avro.Schema) op {
	w, r = deref(w), deref(r)
	if wu, ok := w.(*avro.UnionSchema); ok {
		return b.writerUnion(path, wu, r)
	}
	if ru, ok := r.(*avro.UnionSchema); ok {
		i := pickBranch(w, ru)
		if i < 0 {
			b.incompatible(path, "writer type %s matches no branch of reader union %s", typeName(w), typeName(r))
			return nil
		}
		inner := b.direct(path, w, deref(ru.Types()[i]))
		prefix := AppendLong(nil, int64(i))
		return func(s *xstate) {
			s.out = append(s.out, prefix...)
			inner(s)
		}
	}
	return b.direct(path, w, r)
}

type branch struct {
	prefix []byte // the reader's union index, if the reader is a union
	op     op     // nil if the branch cannot be read
	reason string // why it cannot
}

func (b *builder) writerUnion(path string, wu *avro.UnionSchema, r avro.Schema) op {
	ru, readerUnion := r.(*avro.UnionSchema)
	types := wu.Types()
	branches := make([]branch, len(types))
	var failed []string
	for i, wt := range types {
		wt = deref(wt)
		br := &branches[i]
		if readerUnion {
			j := pickBranch(wt, ru)
			if j < 0 {
				br.reason = fmt.Sprintf("writer union branch %s matches no branch of reader union %s", typeName(wt), typeName(r))
				failed = append(failed, br.reason)
				continue
			}
			br.prefix = AppendLong(nil, int64(j))
			br.op = b.direct(path, wt, deref(ru.Types()[j]))
			continue
		}
		if matchKind(wt, r) == noMatch {
			br.reason = fmt.Sprintf("writer union branch %s cannot be read as %s", typeName(wt), typeName(r))
			failed = append(failed, br.reason)
			continue
		}
		br.op = b.direct(path, wt, r)
	}
	switch {
	case len(failed) == 0:
	case len(failed) == len(types):
		b.incompatible(path, "no branch of writer union %s can be read as %s", typeName(wu), typeName(r))
	default:
		for _, f := range failed {
			b.conditional(path, "%s (reading such a value fails)", f)
		}
	}
	n := len(types)
	return func(s *xstate) {
		i := s.d.UnionIndex(n)
		if i < 0 {
			return
		}
		br := &branches[i]
		if br.op == nil {
			s.failf("%s", br.reason)
			return
		}
		s.out = append(s.out, br.prefix...)
		br.op(s)
	}
}

type match int

const (
	noMatch match = iota
	promotes
	exact
)

// matchKind says whether the reader can read the writer's type: the same
// type (named types by name or reader alias), or a promotion. Neither may be
// a union. Logical types are not looked at here (direct checks them): a
// union branch is picked by its underlying type, as the specification says.
func matchKind(w, r avro.Schema) match {
	wt, rt := w.Type(), r.Type()
	switch wt {
	case avro.Record, avro.Enum, avro.Fixed:
		if wt == rt && namesMatch(w.(avro.NamedSchema), r.(avro.NamedSchema)) {
			return exact
		}
		return noMatch
	}
	if wt == rt {
		return exact
	}
	switch wt {
	case avro.Int:
		if rt == avro.Long || rt == avro.Float || rt == avro.Double {
			return promotes
		}
	case avro.Long:
		if rt == avro.Float || rt == avro.Double {
			return promotes
		}
	case avro.Float:
		if rt == avro.Double {
			return promotes
		}
	case avro.String:
		if rt == avro.Bytes {
			return promotes
		}
	case avro.Bytes:
		if rt == avro.String {
			return promotes
		}
	}
	return noMatch
}

func namesMatch(w, r avro.NamedSchema) bool {
	if w.Name() == r.Name() {
		return true
	}
	for _, a := range r.Aliases() {
		if a == w.FullName() || a[strings.LastIndexByte(a, '.')+1:] == w.Name() {
			return true
		}
	}
	return false
}

// pickBranch returns the reader union branch that reads the non-union w:
// the first of the same type, else the first it promotes to, else -1.
func pickBranch(w avro.Schema, ru *avro.UnionSchema) int {
	best, bestKind := -1, noMatch
	for i, rt := range ru.Types() {
		k := matchKind(w, deref(rt))
		if k == exact {
			return i
		}
		if k > bestKind {
			best, bestKind = i, k
		}
	}
	return best
}

func typeName(s avro.Schema) string {
	switch s := deref(s).(type) {
	case *avro.RecordSchema:
		return "record " + s.FullName()
	case *avro.EnumSchema:
		return "enum " + s.FullName()
	case *avro.FixedSchema:
		return fmt.Sprintf("fixed %s(%d)", s.FullName(), s.Size())
	case *avro.ArraySchema:
		return "array<" + typeName(s.Items()) + ">"
	case *avro.MapSchema:
		return "map<" + typeName(s.Values()) + ">"
	case *avro.UnionSchema:
		parts := make([]string, len(s.Types()))
		for i, t := range s.Types() {
			parts[i] = typeName(t)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	default:
		return string(s.Type())
	}
}

// direct compiles reading w as r, neither of them a union.
func (b *builder) direct(path string, w, r avro.Schema) op {
	if matchKind(w, r) == noMatch {
		wn, wok := w.(avro.NamedSchema)
		rn, rok := r.(avro.NamedSchema)
		if wok && rok && w.Type() == r.Type() {
			b.incompatible(path, "%s renamed from %s to %s with no reader alias for the old name",
				w.Type(), wn.FullName(), rn.FullName())
			return nil
		}
		b.incompatible(path, "type changed from %s to %s (not promotable)", typeName(w), typeName(r))
		return nil
	}
	if why := logicalChange(w, r); why != "" {
		b.incompatible(path, "%s", why)
		return nil
	}
	switch w.Type() {
	case avro.Null:
		return noop
	case avro.Boolean:
		return func(s *xstate) { s.out = AppendBool(s.out, s.d.Bool()) }
	case avro.Int:
		switch r.Type() {
		case avro.Float:
			return func(s *xstate) { s.out = AppendFloat(s.out, float32(s.d.Int())) }
		case avro.Double:
			return func(s *xstate) { s.out = AppendDouble(s.out, float64(s.d.Int())) }
		default: // int, long: the same varint
			return func(s *xstate) { s.out = AppendLong(s.out, int64(s.d.Int())) }
		}
	case avro.Long:
		switch r.Type() {
		case avro.Float:
			return func(s *xstate) { s.out = AppendFloat(s.out, float32(s.d.Long())) }
		case avro.Double:
			return func(s *xstate) { s.out = AppendDouble(s.out, float64(s.d.Long())) }
		default:
			return func(s *xstate) { s.out = AppendLong(s.out, s.d.Long()) }
		}
	case avro.Float:
		if r.Type() == avro.Double {
			return func(s *xstate) { s.out = AppendDouble(s.out, float64(s.d.Float())) }
		}
		return func(s *xstate) { s.out = AppendFloat(s.out, s.d.Float()) }
	case avro.Double:
		return func(s *xstate) { s.out = AppendDouble(s.out, s.d.Double()) }
	case avro.String, avro.Bytes: // string and bytes share an encoding
		return func(s *xstate) { s.out = AppendBytes(s.out, s.d.raw()) }
	case avro.Fixed:
		ws, rs := w.(*avro.FixedSchema).Size(), r.(*avro.FixedSchema).Size()
		if ws != rs {
			b.incompatible(path, "fixed %s size changed from %d to %d", r.(*avro.FixedSchema).FullName(), ws, rs)
			return nil
		}
		return func(s *xstate) {
			start := s.d.off
			s.d.skip(ws)
			if s.d.err == nil {
				s.out = append(s.out, s.d.buf[start:s.d.off]...)
			}
		}
	case avro.Enum:
		return b.enum(path, w.(*avro.EnumSchema), r.(*avro.EnumSchema))
	case avro.Array:
		wi := w.(*avro.ArraySchema).Items()
		items := b.build(path+"[]", wi, r.(*avro.ArraySchema).Items())
		return blocks(b.minSize(wi), items)
	case avro.Map:
		wv := w.(*avro.MapSchema).Values()
		values := b.build(path+"{}", wv, r.(*avro.MapSchema).Values())
		return blocks(1+b.minSize(wv), func(s *xstate) {
			s.out = AppendBytes(s.out, s.d.raw())
			values(s)
		})
	case avro.Record:
		return b.record(path, w.(*avro.RecordSchema), r.(*avro.RecordSchema))
	}
	b.incompatible(path, "unsupported writer type %s", typeName(w))
	return nil
}

// blocks transcodes an array or map: every writer block becomes a block with
// a positive count, then the end marker.
func blocks(minItemSize int, item op) op {
	return func(s *xstate) {
		for {
			n := s.d.BlockCount(minItemSize)
			if n == 0 {
				break
			}
			s.out = AppendLong(s.out, int64(n))
			for i := 0; i < n && s.d.err == nil; i++ {
				item(s)
			}
		}
		s.out = append(s.out, 0)
	}
}

func (b *builder) enum(path string, w, r *avro.EnumSchema) op {
	ws, rs := w.Symbols(), r.Symbols()
	index := make(map[string]int, len(rs))
	for i, sym := range rs {
		index[sym] = i
	}
	table := make([]int, len(ws))
	for i, sym := range ws {
		j, ok := index[sym]
		if !ok {
			j = -1
			if r.HasDefault() {
				j = index[r.Default()]
			} else {
				b.conditional(path, "writer enum symbol %q is not in reader enum %s, which has no default (reading it fails)", sym, r.FullName())
			}
		}
		table[i] = j
	}
	n := len(ws)
	return func(s *xstate) {
		i := s.d.Enum(n)
		if s.d.err != nil {
			return
		}
		j := table[i]
		if j < 0 {
			s.failf("writer enum symbol %q is not in reader enum %s, which has no default", ws[i], r.FullName())
			return
		}
		s.out = AppendLong(s.out, int64(j))
	}
}

func (b *builder) record(path string, w, r *avro.RecordSchema) op {
	key := [2]avro.Schema{w, r}
	if n := b.recs[key]; n != nil {
		return n.call
	}
	n := newRecNode()
	b.recs[key] = n

	wf, rf := w.Fields(), r.Fields()
	rOf := make([]int, len(wf)) // reader field of each writer field, or -1
	wOf := make([]int, len(rf)) // writer field of each reader field, or -1
	for i := range rOf {
		rOf[i] = -1
	}
	for j, f := range rf {
		wOf[j] = -1
		for i, g := range wf {
			if g.Name() == f.Name() {
				rOf[i], wOf[j] = j, i
				break
			}
		}
	}
	// Reader aliases only for fields the writer does not have by name.
	for j, f := range rf {
		for _, a := range f.Aliases() {
			if wOf[j] >= 0 {
				break
			}
			for i, g := range wf {
				if rOf[i] < 0 && g.Name() == a {
					rOf[i], wOf[j] = j, i
					break
				}
			}
		}
	}

	ops := make([]op, len(wf))
	for i, g := range wf {
		if j := rOf[i]; j >= 0 {
			ops[i] = b.build(joinPath(path, rf[j].Name()), g.Type(), rf[j].Type())
		} else {
			ops[i] = b.skip(g.Type())
		}
	}
	defaults := make([][]byte, len(rf))
	for j, f := range rf {
		if wOf[j] >= 0 {
			continue
		}
		if !f.HasDefault() {
			b.incompatible(joinPath(path, f.Name()), "reader field is missing from writer record %s and has no default", w.FullName())
			continue
		}
		def, err := encodeDefault(nil, f.Type(), f.Default())
		if err != nil {
			b.incompatible(joinPath(path, f.Name()), "invalid default: %v", err)
			continue
		}
		defaults[j] = def
	}

	inOrder, last := true, -1
	for _, i := range wOf {
		if i >= 0 {
			if i < last {
				inOrder = false
			}
			last = i
		}
	}
	if inOrder {
		n.run = streamRecord(ops, rOf, defaults)
	} else {
		n.run = reorderRecord(ops, rOf, wOf, defaults)
	}
	return n.call
}

func newRecNode() *recNode {
	n := &recNode{}
	n.call = func(s *xstate) {
		if s.depth >= maxDepth {
			s.failf("records nested deeper than %d", maxDepth)
			return
		}
		s.depth++
		n.run(s)
		s.depth--
	}
	return n
}

// streamRecord handles a writer whose shared fields are in the reader's
// order: defaults are emitted between fields as the reader orders them.
func streamRecord(ops []op, rOf []int, defaults [][]byte) op {
	type step struct {
		pre []byte // defaults of reader fields before this one
		op  op
	}
	steps := make([]step, len(ops))
	next := 0
	for i, o := range ops {
		var pre []byte
		if j := rOf[i]; j >= 0 {
			for ; next < j; next++ {
				pre = append(pre, defaults[next]...)
			}
			next = j + 1
		}
		steps[i] = step{pre: pre, op: o}
	}
	var tail []byte
	for ; next < len(defaults); next++ {
		tail = append(tail, defaults[next]...)
	}
	return func(s *xstate) {
		for i := range steps {
			st := &steps[i]
			s.out = append(s.out, st.pre...)
			st.op(s)
		}
		s.out = append(s.out, tail...)
	}
}

// reorderRecord transcodes the writer's fields in writer order after the
// output's end, notes each field's span, then appends them in reader order
// and moves that into place.
func reorderRecord(ops []op, rOf, wOf []int, defaults [][]byte) op {
	nr := len(wOf)
	return func(s *xstate) {
		mark := len(s.out)
		base := len(s.spans)
		s.spans = append(s.spans, make([]int, 2*nr)...)
		for i, o := range ops {
			j := rOf[i]
			if j < 0 {
				o(s)
				continue
			}
			start := len(s.out)
			o(s)
			s.spans[base+2*j] = start
			s.spans[base+2*j+1] = len(s.out)
		}
		tail := len(s.out)
		for j := range nr {
			if wOf[j] < 0 {
				s.out = append(s.out, defaults[j]...)
			} else {
				s.out = append(s.out, s.out[s.spans[base+2*j]:s.spans[base+2*j+1]]...)
			}
		}
		s.out = append(s.out[:mark], s.out[tail:]...)
		s.spans = s.spans[:base]
	}
}

// skip compiles reading past a value of writer type w.
func (b *builder) skip(w avro.Schema) op {
	switch w := deref(w).(type) {
	case *avro.NullSchema:
		return noop
	case *avro.PrimitiveSchema:
		switch w.Type() {
		case avro.Null:
			return noop
		case avro.Boolean:
			return func(s *xstate) { s.d.Bool() }
		case avro.Int:
			return func(s *xstate) { s.d.Int() }
		case avro.Long:
			return func(s *xstate) { s.d.Long() }
		case avro.Float:
			return func(s *xstate) { s.d.skip(4) }
		case avro.Double:
			return func(s *xstate) { s.d.skip(8) }
		default: // string, bytes
			return func(s *xstate) { s.d.skip(s.d.length()) }
		}
	case *avro.FixedSchema:
		n := w.Size()
		return func(s *xstate) { s.d.skip(n) }
	case *avro.EnumSchema:
		n := len(w.Symbols())
		return func(s *xstate) { s.d.Enum(n) }
	case *avro.UnionSchema:
		branches := make([]op, len(w.Types()))
		for i, t := range w.Types() {
			branches[i] = b.skip(t)
		}
		return func(s *xstate) {
			if i := s.d.UnionIndex(len(branches)); i >= 0 {
				branches[i](s)
			}
		}
	case *avro.ArraySchema:
		return skipBlocks(b.minSize(w.Items()), b.skip(w.Items()))
	case *avro.MapSchema:
		value := b.skip(w.Values())
		return skipBlocks(1+b.minSize(w.Values()), func(s *xstate) {
			s.d.skip(s.d.length())
			value(s)
		})
	case *avro.RecordSchema:
		if n := b.skips[w]; n != nil {
			return n.call
		}
		n := newRecNode()
		b.skips[w] = n
		fields := make([]op, len(w.Fields()))
		for i, f := range w.Fields() {
			fields[i] = b.skip(f.Type())
		}
		n.run = func(s *xstate) {
			for _, f := range fields {
				f(s)
			}
		}
		return n.call
	}
	b.incompatible("", "unsupported writer type %s", typeName(w))
	return noop
}

// skipBlocks skips an array or map, jumping over blocks whose byte size the
// writer recorded.
func skipBlocks(minItemSize int, item op) op {
	return func(s *xstate) {
		for {
			n, size := s.d.blockHeader(minItemSize)
			if n == 0 {
				return
			}
			if size >= 0 {
				s.d.skip(size)
				continue
			}
			for i := 0; i < n && s.d.err == nil; i++ {
				item(s)
			}
		}
	}
}

// minSize is the smallest encoded size of a value of writer type w, a lower
// bound used to reject impossible block counts.
func (b *builder) minSize(w avro.Schema) int { return minSize(w, b.sizes) }

// MinSize is the fewest bytes a value of writer type w takes in Avro's
// binary encoding: a lower bound with which a decoder rejects a block
// count the remaining input cannot hold before it allocates. The
// transcoder and the decoders generated per writer schema share it.
func MinSize(w avro.Schema) int { return minSize(w, make(map[avro.Schema]int)) }

// minSize is MinSize remembering records' sizes in sizes; a record being
// sized (recursion) counts 0, which keeps the bound a lower one.
func minSize(w avro.Schema, sizes map[avro.Schema]int) int {
	switch w := deref(w).(type) {
	case *avro.NullSchema:
		return 0
	case *avro.PrimitiveSchema:
		switch w.Type() {
		case avro.Null:
			return 0
		case avro.Float:
			return 4
		case avro.Double:
			return 8
		}
		return 1
	case *avro.FixedSchema:
		return w.Size()
	case *avro.RecordSchema:
		if n, ok := sizes[w]; ok {
			return n // 0 while in progress: an underestimate is safe
		}
		sizes[w] = 0
		n := 0
		for _, f := range w.Fields() {
			n += minSize(f.Type(), sizes)
		}
		sizes[w] = n
		return n
	}
	return 1 // enum, union, array, map: at least one varint
}
