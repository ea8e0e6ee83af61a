package golang

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"time"

	"github.com/dave/jennifer/jen"

	"github.com/streamgen/streamgen/runtime/config"
)

const configPkg = "github.com/streamgen/streamgen/runtime/config"

// setting is one assignment of the generated DefaultConfig.
type setting struct {
	field string
	value jen.Code
}

// specSettings are the settings of the spec's configuration (Spec.Job)
// that differ from their default, config.Settings', in the struct's
// order: what DefaultConfig assigns. Runtime values keep their ${VAR}
// references: DefaultConfig expands them when the job starts, so no
// secret is baked into generated code; nor are the settings the spec has
// no key for (the job's registry credentials).
func specSettings(job config.Job) []setting {
	def := config.Default()
	table := config.Settings()
	jobType := reflect.TypeFor[config.Job]()
	index := func(s config.Setting) int {
		f, _ := jobType.FieldByName(s.Field())
		return f.Index[0]
	}
	slices.SortStableFunc(table, func(a, b config.Setting) int { return index(a) - index(b) })
	var out []setting
	for _, s := range table {
		if s.NotInSpec {
			continue
		}
		v, d := reflect.ValueOf(s.Value(&job)).Elem(), reflect.ValueOf(s.Value(&def)).Elem()
		if reflect.DeepEqual(v.Interface(), d.Interface()) {
			continue
		}
		if v.Kind() == reflect.Map && v.Len() == 0 && d.Len() == 0 {
			continue
		}
		out = append(out, setting{s.Field(), valueLit(v.Interface())})
	}
	return out
}

// enumConsts names the constant of each value of config's enums.
var enumConsts = map[any]string{
	config.AtLeastOnce: "AtLeastOnce", config.AtMostOnce: "AtMostOnce", config.ExactlyOnce: "ExactlyOnce",
	config.ResetEarliest: "ResetEarliest", config.ResetLatest: "ResetLatest", config.ResetError: "ResetError",
	config.ReadCommitted: "ReadCommitted", config.ReadUncommitted: "ReadUncommitted",
	config.LocationConsistent: "LocationConsistent", config.LocationBrokers: "LocationBrokers", config.LocationFixed: "LocationFixed",
	config.FailOnDecodeError: "FailOnDecodeError", config.SkipBadRecords: "SkipBadRecords", config.DeadLetterBadRecords: "DeadLetterBadRecords",
	config.StoreKafka: "StoreKafka", config.StorePostgres: "StorePostgres", config.StoreFiles: "StoreFiles", config.StoreBlob: "StoreBlob",
	config.SinkNone: "SinkNone", config.SinkFiles: "SinkFiles", config.SinkPostgres: "SinkPostgres", config.SinkKafka: "SinkKafka", config.SinkBlob: "SinkBlob",
}

// valueLit writes a config.Job field's value as Go.
func valueLit(v any) jen.Code {
	switch v := v.(type) {
	case config.StartPosition:
		switch v.Kind() {
		case config.StartFromEarliest:
			return jen.Qual(configPkg, "StartEarliest").Call()
		case config.StartFromLatest:
			return jen.Qual(configPkg, "StartLatest").Call()
		case config.StartFromTimestamp:
			t := v.Time().UTC()
			return jen.Qual(configPkg, "StartAt").Call(jen.Qual("time", "Date").Call(
				jen.Lit(t.Year()), jen.Qual("time", t.Month().String()), jen.Lit(t.Day()),
				jen.Lit(t.Hour()), jen.Lit(t.Minute()), jen.Lit(t.Second()), jen.Lit(t.Nanosecond()), jen.Qual("time", "UTC")))
		}
		return jen.Qual(configPkg, "StartCommitted").Call()
	case time.Duration:
		return durationLit(v)
	case string, bool, int, float64:
		return jen.Lit(v)
	case int64:
		return jen.Lit(int(v))
	case []string:
		return jen.Index().String().ValuesFunc(func(g *jen.Group) {
			for _, s := range v {
				g.Lit(s)
			}
		})
	case map[string]string:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return jen.Map(jen.String()).String().Values(jen.DictFunc(func(d jen.Dict) {
			for _, k := range keys {
				d[jen.Lit(k)] = jen.Lit(v[k])
			}
		}))
	default:
		if name, ok := enumConsts[v]; ok {
			return jen.Qual(configPkg, name)
		}
	}
	panic(fmt.Sprintf("golang: no literal for config value %T", v))
}
