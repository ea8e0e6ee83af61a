package config

import (
	"strings"
	"unicode"
)

// The names a running job reads its settings by, derived from the spec
// keys so that they need no table of their own: the runtime's flags and
// environment variables, and the generated Main's documentation.

// FlagName is the flag of a setting's spec key: the key without a leading
// "kafka." or "schemas." and a trailing ".enabled", its dots and camelCase
// humps turned into dashes, in lower case: kafka.startFrom is
// --start-from, batch.maxRatePerPartition --batch-max-rate-per-partition,
// kafka.tls.enabled --tls.
func FlagName(key string) string {
	key = strings.TrimPrefix(key, "kafka.")
	key = strings.TrimPrefix(key, "schemas.")
	key = strings.TrimSuffix(key, ".enabled")
	var b strings.Builder
	for i, r := range key {
		switch {
		case r == '.':
			b.WriteByte('-')
		case unicode.IsUpper(r):
			if i > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(unicode.ToLower(r))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// EnvPrefix is the prefix of a job's environment variables: its name in
// upper case, each run of other characters than letters and digits made
// one "_", then "_": anomaly-detector reads ANOMALY_DETECTOR_*. A name
// without ASCII letters or digits has STREAMGEN_.
func EnvPrefix(job string) string {
	var b strings.Builder
	under := false
	for _, r := range job {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(unicode.ToUpper(r))
			under = false
		} else if !under && b.Len() > 0 {
			b.WriteByte('_')
			under = true
		}
	}
	s := strings.TrimSuffix(b.String(), "_")
	if s == "" {
		return "STREAMGEN_"
	}
	return s + "_"
}

// EnvName is the environment variable of a setting's spec key for a job:
// EnvPrefix and FlagName in upper case with "_" for "-": batch.interval
// of anomaly-detector is ANOMALY_DETECTOR_BATCH_INTERVAL.
func EnvName(job, key string) string {
	return EnvPrefix(job) + strings.ToUpper(strings.ReplaceAll(FlagName(key), "-", "_"))
}
