package codec

import (
	"bytes"
	"testing"
)

func FuzzDecoder(f *testing.F) {
	full := sampleDatum()
	f.Add(full)
	f.Add(full[:len(full)/2])
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add(AppendLong(nil, 1<<40))
	f.Fuzz(func(t *testing.T, src []byte) {
		d := NewDecoder(src)
		readSample(&d)
		err := d.Finish()
		if d.Offset() < 0 || d.Offset() > len(src) {
			t.Fatalf("offset %d outside [0,%d]", d.Offset(), len(src))
		}
		if first := d.Err(); first != nil {
			if err != first || d.Long() != 0 || d.String() != "" || d.UnionIndex(3) != -1 || d.Err() != first {
				t.Fatal("error is not sticky")
			}
		}
	})
}

func FuzzTranscode(f *testing.F) {
	writer, reader, src := evolutionSample(f)
	f.Add(uint8(0), src)
	var list []byte
	for i := range 3 {
		list = AppendInt(list, int32(i))
		list = AppendString(list, "x")
		list = AppendInt(list, int32(1-i/2))
	}
	f.Add(uint8(1), list)
	tree := []byte{2, 3, 4, 6, 0, 0, 0}
	f.Add(uint8(2), tree)
	f.Add(uint8(1), []byte{0, 0, 2, 0, 0, 2})
	f.Add(uint8(0), []byte{})

	pairs := []struct{ writer, reader string }{{writer, reader}, {listV1, listV2}, {treeV1, treeV2}}
	type compiled struct {
		res, identity *Resolution
	}
	var progs []compiled
	for _, p := range pairs {
		res := mustForWriter(f, p.reader, p.writer)
		sch := hambaSchema(f, p.reader)
		progs = append(progs, compiled{res, &Resolution{root: newBuilder().build("", sch, sch)}})
	}
	f.Fuzz(func(t *testing.T, which uint8, src []byte) {
		p := progs[int(which)%len(progs)]
		out, err := p.res.Transcode([]byte{1, 2}, src)
		if err != nil {
			if !bytes.Equal(out, []byte{1, 2}) {
				t.Fatalf("dst changed on error: %x", out)
			}
			return
		}
		// Success must produce exactly one datum of the reader schema.
		again, err := p.identity.Transcode(nil, out[2:])
		if err != nil {
			t.Fatalf("output %x is not a reader datum: %v", out[2:], err)
		}
		if !bytes.Equal(again, out[2:]) {
			t.Fatalf("output not canonical: %x vs %x", again, out[2:])
		}
	})
}
