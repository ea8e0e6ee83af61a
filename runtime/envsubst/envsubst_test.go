package envsubst

import (
	"errors"
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	env := map[string]string{
		"HOST":  "kafka:9092",
		"EMPTY": "",
		"USER":  "alice",
	}
	lookup := func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
	tests := []struct {
		in, want string
		err      string // substring of the error; "" means no error
	}{
		{in: "", want: ""},
		{in: "plain", want: "plain"},
		{in: "${HOST}", want: "kafka:9092"},
		{in: "tcp://${HOST}/x", want: "tcp://kafka:9092/x"},
		{in: "${USER}@${HOST}", want: "alice@kafka:9092"},
		{in: "${EMPTY}", want: ""},
		{in: "${MISSING:-localhost:9092}", want: "localhost:9092"},
		{in: "${EMPTY:-fallback}", want: "fallback"},
		{in: "${HOST:-fallback}", want: "kafka:9092"},
		{in: "${MISSING:-}", want: ""},
		{in: "${MISSING:-${USER}}", want: "alice"},
		{in: "${MISSING:-a${MISSING2:-b}c}", want: "abc"},
		{in: "${MISSING:-{x}", want: "{x"},
		{in: "$$", want: "$"},
		{in: "$${HOST}", want: "${HOST}"},
		{in: "pa$word", want: "pa$word"},
		{in: "cost$", want: "cost$"},
		{in: "$HOST", want: "$HOST"},
		{in: "$$$${HOST}", want: "$${HOST}"},
		{in: "${MISSING}", err: "environment variable MISSING is not set"},
		{in: "${MISSING:-${ALSO_MISSING}}", err: "ALSO_MISSING is not set"},
		{in: "${HOST", err: "unterminated"},
		{in: "x${", err: "unterminated"},
		{in: "${}", err: "bad variable reference ${}"},
		{in: "${1X}", err: "bad variable reference"},
		{in: "${A-B}", err: "bad variable reference"},
		{in: "${A:?msg}", err: "bad variable reference"},
		{in: "${ HOST }", err: "bad variable reference"},
	}
	for _, tt := range tests {
		got, err := Expand(tt.in, lookup)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Expand(%q) = %q, %v; want error containing %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Expand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestUnsetError(t *testing.T) {
	_, err := Expand("${KAFKA_PASSWORD}", func(string) (string, bool) { return "", false })
	var ue *UnsetError
	if !errors.As(err, &ue) || ue.Name != "KAFKA_PASSWORD" {
		t.Fatalf("err = %v; want *UnsetError for KAFKA_PASSWORD", err)
	}
}

func TestExpandEnv(t *testing.T) {
	t.Setenv("STREAMGEN_ENVSUBST_TEST", "v")
	got, err := ExpandEnv("<${STREAMGEN_ENVSUBST_TEST}>")
	if err != nil || got != "<v>" {
		t.Fatalf("ExpandEnv = %q, %v", got, err)
	}
}

func TestHasRefs(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"", false},
		{"localhost:9092", false},
		{"${X}", true},
		{"a${X:-b}", true},
		{"$${X}", false},
		{"$$${X}", true},
		{"pa$word", false},
		{"${", true},
		{"$", false},
	}
	for _, tt := range tests {
		if got := HasRefs(tt.in); got != tt.want {
			t.Errorf("HasRefs(%q) = %v; want %v", tt.in, got, tt.want)
		}
	}
}
