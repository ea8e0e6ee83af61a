package golang

import (
	"encoding"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/dave/jennifer/jen"

	"github.com/streamgen/streamgen/runtime/config"
)

// TestValueLitCoversConfig: DefaultConfig can write every field of
// config.Job, and every value of every enum by its constant's name.
func TestValueLitCoversConfig(t *testing.T) {
	typ := reflect.TypeFor[config.Job]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("field %s (%s): %v", f.Name, f.Type, r)
				}
			}()
			valueLit(reflect.New(f.Type).Elem().Interface())
		}()
	}
	for _, e := range []interface {
		encoding.TextUnmarshaler
		Names() []string
	}{new(config.Semantics), new(config.ResetPolicy), new(config.Isolation), new(config.Location),
		new(config.DecodePolicy), new(config.OffsetsStore), new(config.SinkType)} {
		for _, n := range e.Names() {
			if err := e.UnmarshalText([]byte(n)); err != nil {
				t.Fatal(err)
			}
			v := reflect.ValueOf(e).Elem().Interface()
			if _, ok := enumConsts[v]; !ok {
				t.Errorf("no constant for %T %q", v, n)
			}
		}
	}
	at := time.Date(2024, 5, 1, 2, 3, 4, 5, time.FixedZone("CEST", 2*3600))
	got := fmt.Sprintf("%#v", jen.Id("c").Op("=").Add(valueLit(config.StartAt(at))))
	if want := `c = config.StartAt(time.Date(2024, time.May, 1, 0, 3, 4, 5, time.UTC))`; got != want {
		t.Errorf("StartAt: %s, want %s", got, want)
	}
}
