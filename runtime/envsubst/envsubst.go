// Package envsubst expands ${VAR} references in configuration values.
//
// Generated jobs call it at start-up on their runtime settings (brokers,
// credentials, DSNs, ...), so the values written in streamgen.yaml may name
// environment variables instead of embedding secrets in generated code.
// The generator uses the same function for the few values it needs at
// generation time, so both sides agree on the syntax:
//
//	${NAME}            the value of NAME; an error if NAME is unset
//	${NAME:-default}   the value of NAME, or default when NAME is unset or
//	                   empty (as in sh); default may itself hold references
//	$$                 a literal $
//
// Any other $ is kept literally, so passwords and DSNs holding a lone $
// need no escaping. NAME is [A-Za-z_][A-Za-z0-9_]*.
package envsubst

import (
	"fmt"
	"os"
	"strings"
)

// UnsetError reports a ${NAME} reference without a default whose variable
// is not set.
type UnsetError struct {
	Name string
}

func (e *UnsetError) Error() string {
	return fmt.Sprintf("environment variable %s is not set and ${%s} has no default (write ${%s:-default} to give one)", e.Name, e.Name, e.Name)
}

// Expand replaces the references in s with values from lookup, which
// reports whether a variable is set (os.LookupEnv has this signature).
// It fails on an unterminated "${", a bad variable name, or an unset
// variable without a default (as *UnsetError).
func Expand(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' || i+1 == len(s) {
			b.WriteByte(c)
			i++
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i += 2
		case '{':
			end := closing(s, i+2)
			if end < 0 {
				return "", fmt.Errorf("unterminated reference %q: missing }", s[i:])
			}
			v, err := expandRef(s[i+2:end], lookup)
			if err != nil {
				return "", err
			}
			b.WriteString(v)
			i = end + 1
		default:
			b.WriteByte('$')
			i++
		}
	}
	return b.String(), nil
}

// ExpandEnv is Expand with os.LookupEnv.
func ExpandEnv(s string) (string, error) {
	return Expand(s, os.LookupEnv)
}

// HasRefs reports whether s holds a ${...} reference (a "$${" is an
// escaped literal and does not count).
func HasRefs(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] != '$' {
			continue
		}
		switch s[i+1] {
		case '$':
			i++
		case '{':
			return true
		}
	}
	return false
}

// closing returns the index of the } that closes a reference whose body
// starts at i, skipping nested references and $$ escapes, or -1.
func closing(s string, i int) int {
	depth := 0
	for ; i < len(s); i++ {
		switch {
		case s[i] == '$' && i+1 < len(s) && s[i+1] == '$':
			i++
		case s[i] == '$' && i+1 < len(s) && s[i+1] == '{':
			depth++
			i++
		case s[i] == '}':
			if depth == 0 {
				return i
			}
			depth--
		}
	}
	return -1
}

func expandRef(body string, lookup func(string) (string, bool)) (string, error) {
	name, def, hasDef := strings.Cut(body, ":-")
	if !validName(name) {
		return "", fmt.Errorf("bad variable reference ${%s}: want ${NAME} or ${NAME:-default} with NAME matching [A-Za-z_][A-Za-z0-9_]*", body)
	}
	v, ok := lookup(name)
	if hasDef {
		if ok && v != "" {
			return v, nil
		}
		return Expand(def, lookup)
	}
	if !ok {
		return "", &UnsetError{Name: name}
	}
	return v, nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
