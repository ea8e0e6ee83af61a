package runtime

import (
	"encoding"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/streamgen/streamgen/runtime/config"
	"github.com/streamgen/streamgen/runtime/envsubst"
)

// This file owns the runtime's flags and environment variables, derived
// from config.Settings, and the log settings Main adds.

// setting is one runtime setting that Main reads from a flag and from an
// environment variable, over the spec's value: a config.Setting, or one of
// Main's log settings. Its flag and variable names derive from key
// (flagName, EnvName).
type setting struct {
	// key is the spec key ("batch.interval"), or for settings that are
	// not in the spec ("log.level") a key in the same shape.
	key string
	// field is where the value goes: a pointer to a string, []string,
	// time.Duration, int, int64, float64, bool, map[string]string or an
	// encoding.TextUnmarshaler (the config enums, slog.Level).
	field func(t *target) any
	help  string
	// secret values are never printed: not as defaults in --help, not in
	// logs, not in error messages.
	secret bool
	// positive numbers only; every other number must be >= 0.
	positive bool
	// notInSpec: the spec has no such key (log settings, the job's own
	// registry credentials).
	notInSpec bool
	// aliases are older flag names still accepted.
	aliases []string
}

// target is what settings write to: the job's configuration and Main's
// log settings.
type target struct {
	*JobConfig
	Log *logSettings
}

// logSettings are Main's log settings, which are not the job's.
type logSettings struct {
	Format     logFormat
	Level      slog.Level
	KafkaLevel slog.Level
}

func defaultLogSettings() logSettings {
	return logSettings{Format: "text", Level: slog.LevelInfo, KafkaLevel: slog.LevelWarn}
}

// logFormat is text or json.
type logFormat string

func (f logFormat) MarshalText() ([]byte, error) { return []byte(f), nil }
func (f *logFormat) UnmarshalText(b []byte) error {
	switch s := logFormat(b); s {
	case "text", "json":
		*f = s
		return nil
	}
	return fmt.Errorf("%q is not text or json", b)
}

// settings are the runtime settings, in --help's order: config.Settings
// (but the wired ones: semantics, offsets.store and sink.type are built
// into the generated Run, so changing them means changing the spec and
// generating again), then Main's own log settings. A new config.Job field
// becomes a flag, an environment variable, a line of --help and a row of
// the README's table with its entry in config.Settings.
var settings = runtimeSettings(config.Settings())

// runtimeSettings are the settings of table that the running job reads,
// then Main's log settings.
func runtimeSettings(table []config.Setting) []setting {
	var out []setting
	for _, s := range table {
		if s.Wired {
			continue
		}
		value := s.Value
		out = append(out, setting{
			key: s.Key, field: func(t *target) any { return value(&t.Job) }, help: s.Help,
			secret: s.Secret, positive: s.Positive, notInSpec: s.NotInSpec, aliases: s.Aliases,
		})
	}
	return append(out, logSettingRows...)
}

// logSettingRows are Main's own settings, which are not the job's: their
// values are logSettings', which config.Job does not hold.
var logSettingRows = []setting{
	{key: "log.format", field: func(t *target) any { return &t.Log.Format }, help: "log format: text or json", notInSpec: true},
	{key: "log.level", field: func(t *target) any { return &t.Log.Level }, help: "lowest level logged: debug, info, warn or error", notInSpec: true},
	{key: "log.kafkaLevel", field: func(t *target) any { return &t.Log.KafkaLevel }, help: "lowest level of the Kafka client's own log lines", notInSpec: true},
}

func flagName(key string) string { return config.FlagName(key) }
func envName(prefix, flag string) string {
	return prefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// settingSource says where a value came from, for messages.
func (s *setting) source(prefix string, fromFlag string) string {
	if fromFlag != "" {
		return fmt.Sprintf("flag --%s (env %s, %s)", fromFlag, envName(prefix, flagName(s.key)), s.keyNote())
	}
	return fmt.Sprintf("env %s (flag --%s, %s)", envName(prefix, flagName(s.key)), flagName(s.key), s.keyNote())
}

func (s *setting) keyNote() string {
	if s.notInSpec {
		return "setting " + s.key
	}
	return "spec key " + s.key
}

// set parses v into the setting's field. Errors say what is wrong with the
// value, and quote it unless the setting is secret.
func (s *setting) set(t *target, v string) error {
	quote := func() string {
		if s.secret {
			return "the value (a secret, not shown)"
		}
		return strconv.Quote(v)
	}
	num := func(ok bool, err error, what string) error {
		switch {
		case err != nil:
			return fmt.Errorf("%s is not %s", quote(), what)
		case !ok && s.positive:
			return fmt.Errorf("%s is not positive", quote())
		case !ok:
			return fmt.Errorf("%s is negative", quote())
		}
		return nil
	}
	switch p := s.field(t).(type) {
	case *string:
		*p = v
	case *[]string:
		*p = splitList(v)
	case *time.Duration:
		d, err := time.ParseDuration(v)
		if err := num(d > 0 || (d == 0 && !s.positive), err, "a duration such as 250ms or 5s"); err != nil {
			return err
		}
		*p = d
	case *int:
		n, err := strconv.Atoi(v)
		if err := num(n > 0 || (n == 0 && !s.positive), err, "an integer"); err != nil {
			return err
		}
		*p = n
	case *int64:
		n, err := strconv.ParseInt(v, 10, 64)
		if err := num(n > 0 || (n == 0 && !s.positive), err, "an integer"); err != nil {
			return err
		}
		*p = n
	case *float64:
		f, err := strconv.ParseFloat(v, 64)
		if err := num(f > 0 || (f == 0 && !s.positive), err, "a number"); err != nil {
			return err
		}
		*p = f
	case *bool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%s is not true or false", quote())
		}
		*p = b
	case *map[string]string:
		m := map[string]string{}
		for _, kv := range splitList(v) {
			k, val, ok := strings.Cut(kv, "=")
			if !ok {
				return fmt.Errorf("%q is not key=value", kv)
			}
			m[strings.TrimSpace(k)] = strings.TrimSpace(val)
		}
		*p = m
	case encoding.TextUnmarshaler:
		if err := p.UnmarshalText([]byte(v)); err != nil {
			if s.secret {
				return errors.New("not a valid value (a secret, not shown)")
			}
			return err
		}
	default:
		panic(fmt.Sprintf("runtime: setting %s: field of unsupported type %T", s.key, p))
	}
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// show is the setting's value for --help; secrets are not shown.
func (s *setting) show(t *target) string {
	if s.secret {
		return "secret, not shown"
	}
	if f := s.fieldName(t); f != "" && t.expandErrs[f] != nil {
		if t.derivedFromSink(f) {
			return "the sink's: with this sink it is --" + flagName(fieldKey[strings.Replace(f, "Offsets", "Sink", 1)])
		}
		if u, ok := errors.AsType[*envsubst.UnsetError](t.expandErrs[f]); ok {
			return fmt.Sprintf("no default: the spec reads ${%s}, which is not set", u.Name)
		}
	}
	var v string
	switch p := s.field(t).(type) {
	case *string:
		v = strconv.Quote(*p)
	case *[]string:
		v = strconv.Quote(strings.Join(*p, ","))
	case *map[string]string:
		var kv []string
		for k, val := range *p {
			kv = append(kv, k+"="+val)
		}
		slices.Sort(kv)
		v = strconv.Quote(strings.Join(kv, ","))
	case encoding.TextMarshaler:
		b, err := p.MarshalText()
		if err != nil {
			return "invalid"
		}
		v = string(b)
	default:
		v = fmt.Sprint(reflect.ValueOf(p).Elem().Interface())
	}
	return "default " + v
}

// choices are the words an enum setting takes, when its type lists them.
func (s *setting) choices(t *target) string {
	if n, ok := s.field(t).(interface{ Names() []string }); ok {
		return strings.Join(n.Names(), ", ")
	}
	return ""
}

// kind is the setting's value type, for --help.
func (s *setting) kind(t *target) string {
	switch s.field(t).(type) {
	case *string:
		return "string"
	case *[]string:
		return "list"
	case *time.Duration:
		return "duration"
	case *int, *int64:
		return "int"
	case *float64:
		return "number"
	case *bool:
		return "bool"
	case *map[string]string:
		return "k=v,..."
	}
	return "word"
}

// fieldName is the config.Job field a setting writes, for the messages
// that name settings by field; "" for Main's own settings.
func (s *setting) fieldName(t *target) string {
	p := reflect.ValueOf(s.field(t)).Pointer()
	v := reflect.ValueOf(&t.JobConfig.Job).Elem()
	for i := range v.NumField() {
		if v.Field(i).Addr().Pointer() == p {
			return v.Type().Field(i).Name
		}
	}
	return ""
}

// writeHelp lists every setting: flag, env variable, spec key, type,
// default (never a secret's) and help.
func writeHelp(w io.Writer, name, prefix string, t *target) {
	fmt.Fprintf(w, "Usage of %s: %s [flags]\n\n", name, name)
	fmt.Fprintf(w, "Each setting is read from its flag, else from its environment variable\n(%s + the flag's name in upper case, - as _), else from the spec.\n", strings.TrimSuffix(prefix, "_")+"_")
	fmt.Fprintln(w, "Flags take one or two dashes. Secrets are never printed.")
	fmt.Fprintln(w)
	for i := range settings {
		s := &settings[i]
		f := flagName(s.key)
		fmt.Fprintf(w, "  --%s %s\n", f, s.kind(t))
		help := s.help
		if c := s.choices(t); c != "" {
			help += ": " + c
		}
		fmt.Fprintf(w, "        %s (%s)\n", help, s.show(t))
		extra := "env " + envName(prefix, f) + ", " + s.keyNote()
		for _, a := range s.aliases {
			extra += ", also --" + a
		}
		fmt.Fprintf(w, "        %s\n", extra)
	}
}

// readmeTableStart and readmeTableEnd delimit the README's table of the
// job's settings, which writeSettingsTable writes.
const (
	readmeTableStart = "<!-- settings table: written from config.Settings; go test ./runtime -run ReadmeDocumentsEverySetting -update rewrites it -->\n"
	readmeTableEnd   = "<!-- end of settings table -->\n"
)

// writeSettingsTable writes the README's table of the job's settings
// (Main's log settings have their own): flag, variable of a job named
// job, spec key, type, default (never a secret's) and help.
func writeSettingsTable(w io.Writer, job string, table []config.Setting) {
	logs := defaultLogSettings()
	cfg := DefaultJobConfig()
	t := &target{JobConfig: &cfg, Log: &logs}
	prefix := config.EnvPrefix(job)
	fmt.Fprintf(w, "| flag | variable (for `%s`) | spec key | type | default | |\n", job)
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- |")
	for _, s := range runtimeSettings(table) {
		if slices.ContainsFunc(logSettingRows, func(l setting) bool { return l.key == s.key }) {
			continue
		}
		f := flagName(s.key)
		key := "`" + s.key + "`"
		if s.notInSpec {
			key = "(none)"
		}
		def := "secret"
		if !s.secret {
			def = "`" + strings.TrimPrefix(s.show(t), "default ") + "`"
		}
		help := s.help
		if c := s.choices(t); c != "" {
			help += ": " + c
		}
		for _, a := range s.aliases {
			help += "; also `--" + a + "`"
		}
		fmt.Fprintf(w, "| `--%s` | `%s` | %s | %s | %s | %s |\n", f, envName(prefix, f), key, s.kind(t), def, strings.ReplaceAll(help, "|", `\|`))
	}
}

// Setting adds a setting of the job's own (the file its handler reads a
// model from, an interval) to those Main reads. It gets a flag and an
// environment variable named from key as the runtime's settings do (key
// "model.file": --model-file and ANOMALY_DETECTOR_MODEL_FILE for the job
// anomaly-detector), --help lists it, and Main does not warn of its
// variable as one the job does not read. def is its value when neither
// is set. Declare it before Main runs, in a package-level variable:
//
//	var modelFile = runtime.Setting("model.file", "model.json", "the JSON file of the anomaly model")
//
// T is string, []string, time.Duration, int, int64, float64 or bool. A
// key the runtime already has, or a second Setting of one key, panics:
// two settings would read the same flag.
func Setting[T any](key string, def T, help string) *T {
	p := &def
	switch any(p).(type) {
	case *string, *[]string, *time.Duration, *int, *int64, *float64, *bool:
	default:
		panic(fmt.Sprintf("runtime.Setting %q: %T is not a setting's type (string, []string, time.Duration, int, int64, float64 or bool)", key, def))
	}
	for i := range settings {
		if flagName(settings[i].key) == flagName(key) {
			panic(fmt.Sprintf("runtime.Setting %q: the flag --%s is taken by setting %s", key, flagName(key), settings[i].key))
		}
	}
	settings = append(settings, setting{key: key, field: func(*target) any { return p }, help: help, notInSpec: true})
	return p
}
