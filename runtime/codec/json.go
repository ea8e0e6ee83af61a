package codec

// The JSON form of generated records (their MarshalJSON and UnmarshalJSON)
// is for people and HTTP clients, not the Avro JSON encoding: a record is an
// object keyed by Avro field name, in schema order; an optional ["null", T]
// is null or T's value; other unions are null or {"branch": value} as in
// Avro's JSON encoding, the branch named by its Avro type (a named type's
// full name, "long" for a timestamp); bytes and fixed are standard base64;
// decimals are strings holding the exact value at the schema's scale
// ("1.254300"); timestamps RFC 3339 strings with nanoseconds; dates
// "2006-01-02"; time-millis and time-micros Go duration strings ("1.5s");
// duration {"months", "days", "milliseconds"}; NaN and infinite floats the
// strings "NaN", "Infinity" and "-Infinity"; maps in key order.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

const jsonDate = "2006-01-02"

// AppendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// as with encoding/json: Avro strings are UTF-8.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigit(c>>4), hexDigit(c&0xf))
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func hexDigit(b byte) byte { return "0123456789abcdef"[b] }

// AppendJSONBytes appends b as a standard base64 JSON string.
func AppendJSONBytes(dst, b []byte) []byte {
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"')
}

// AppendJSONFloat appends f, of the given bit size (32 or 64), as the
// shortest JSON number that reads back as f; NaN and the infinities, which
// JSON numbers cannot hold, as the strings "NaN", "Infinity", "-Infinity".
func AppendJSONFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Infinity"`...)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits)
}

// AppendJSONTime appends t as an RFC 3339 string with nanoseconds.
func AppendJSONTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}

// AppendJSONDate appends the date of t (in UTC) as "2006-01-02".
func AppendJSONDate(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.UTC().AppendFormat(dst, jsonDate)
	return append(dst, '"')
}

// AppendJSONTimeOfDay appends d as a Go duration string ("1h2m3.004s").
func AppendJSONTimeOfDay(dst []byte, d time.Duration) []byte {
	return AppendJSONString(dst, d.String())
}

// AppendJSONDuration appends the Avro duration as an object.
func AppendJSONDuration(dst []byte, d Duration) []byte {
	dst = append(dst, `{"months":`...)
	dst = strconv.AppendUint(dst, uint64(d.Months), 10)
	dst = append(dst, `,"days":`...)
	dst = strconv.AppendUint(dst, uint64(d.Days), 10)
	dst = append(dst, `,"milliseconds":`...)
	dst = strconv.AppendUint(dst, uint64(d.Milliseconds), 10)
	return append(dst, '}')
}

// AppendJSONDecimal appends r as a JSON string of its exact value with
// scale digits after the point, null for a nil r. A value that is not a
// whole number of 10^-scale is an error, as it is for Avro encoding.
func AppendJSONDecimal(dst []byte, r *big.Rat, scale int) ([]byte, error) {
	if r == nil {
		return append(dst, "null"...), nil
	}
	if !r.IsInt() {
		scaled := new(big.Rat).Mul(r, new(big.Rat).SetInt(pow10(scale)))
		if !scaled.IsInt() {
			return dst, fmt.Errorf("decimal %s has more than %d digits after the point", r.RatString(), scale)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, r.FloatString(scale)...)
	return append(dst, '"'), nil
}

// JSONError is a JSON value that does not read as the type it is for.
type JSONError struct {
	Value string // the JSON text, shortened
	Want  string
	Err   error
}

func (e *JSONError) Error() string {
	s := fmt.Sprintf("JSON %s is not %s", e.Value, e.Want)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *JSONError) Unwrap() error { return e.Err }

func jsonErr(b []byte, want string, err error) error {
	v := string(bytes.TrimSpace(b))
	if len(v) > 40 {
		v = v[:37] + "..."
	}
	return &JSONError{Value: v, Want: want, Err: err}
}

// JSONIsNull reports whether b is the JSON null.
func JSONIsNull(b []byte) bool { return string(bytes.TrimSpace(b)) == "null" }

// JSONObject calls member for each member of the JSON object b, in order of
// appearance. Generated UnmarshalJSON methods pass a switch on the Avro
// field names; members they do not know are skipped, as encoding/json does.
func JSONObject(b []byte, member func(name string, value []byte) error) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return jsonErr(b, "an object", err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return jsonErr(b, "an object", err)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return jsonErr(b, "an object", err)
		}
		if err := member(tok.(string), raw); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return jsonErr(b, "an object", err)
	}
	return nil
}

// JSONArray calls item for each element of the JSON array b.
func JSONArray(b []byte, item func(value []byte) error) error {
	var items []json.RawMessage
	if err := json.Unmarshal(b, &items); err != nil {
		return jsonErr(b, "an array", err)
	}
	for i, it := range items {
		if err := item(it); err != nil {
			return fmt.Errorf("[%d]: %w", i, err)
		}
	}
	return nil
}

// JSONMap calls value for each member of the JSON object b, keys sorted.
func JSONMap(b []byte, value func(key string, value []byte) error) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return jsonErr(b, "an object", err)
	}
	for _, k := range SortedKeys(nil, m) {
		if err := value(k, m[k]); err != nil {
			return fmt.Errorf("[%q]: %w", k, err)
		}
	}
	return nil
}

// JSONUnion reads a union that is not null: an object of one member whose
// name is the branch's Avro type name.
func JSONUnion(b []byte) (branch string, value []byte, err error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil || len(m) != 1 {
		return "", nil, jsonErr(b, `a union value {"branch type": value}`, err)
	}
	for k, v := range m {
		return k, v, nil
	}
	panic("unreachable")
}

// ErrUnknownBranch is the error of a union member that names no branch.
var ErrUnknownBranch = errors.New("no such union branch")

// JSONBool reads a JSON boolean.
func JSONBool(b []byte) (bool, error) {
	var v bool
	if err := json.Unmarshal(b, &v); err != nil {
		return false, jsonErr(b, "a boolean", err)
	}
	return v, nil
}

// JSONInt reads a JSON number that is an Avro int.
func JSONInt(b []byte) (int32, error) {
	var v int32
	if err := json.Unmarshal(b, &v); err != nil {
		return 0, jsonErr(b, "an int", err)
	}
	return v, nil
}

// JSONLong reads a JSON number that is an Avro long.
func JSONLong(b []byte) (int64, error) {
	var v int64
	if err := json.Unmarshal(b, &v); err != nil {
		return 0, jsonErr(b, "a long", err)
	}
	return v, nil
}

// JSONFloat reads a JSON number, or "NaN", "Infinity" or "-Infinity", as a
// float of the given bit size.
func JSONFloat(b []byte, bits int) (float64, error) {
	var s string
	if json.Unmarshal(b, &s) == nil {
		switch s {
		case "NaN":
			return math.NaN(), nil
		case "Infinity":
			return math.Inf(1), nil
		case "-Infinity":
			return math.Inf(-1), nil
		}
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return 0, jsonErr(b, "a number", err)
	}
	f, err := strconv.ParseFloat(string(n), bits)
	if err != nil {
		return 0, jsonErr(b, "a number", err)
	}
	return f, nil
}

// JSONString reads a JSON string.
func JSONString(b []byte) (string, error) {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return "", jsonErr(b, "a string", err)
	}
	return s, nil
}

// JSONBytes reads a standard base64 JSON string.
func JSONBytes(b []byte) ([]byte, error) {
	s, err := JSONString(b)
	if err != nil {
		return nil, err
	}
	v, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, jsonErr(b, "base64", err)
	}
	return v, nil
}

// JSONFixed reads a standard base64 JSON string of exactly len(dst) bytes
// into dst.
func JSONFixed(b []byte, dst []byte) error {
	v, err := JSONBytes(b)
	if err != nil {
		return err
	}
	if len(v) != len(dst) {
		return jsonErr(b, fmt.Sprintf("%d bytes in base64", len(dst)), fmt.Errorf("%d bytes", len(v)))
	}
	copy(dst, v)
	return nil
}

// JSONTime reads an RFC 3339 string as a time in UTC.
func JSONTime(b []byte) (time.Time, error) {
	s, err := JSONString(b)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, jsonErr(b, "an RFC 3339 time", err)
	}
	return t.UTC(), nil
}

// JSONDate reads "2006-01-02" as UTC midnight.
func JSONDate(b []byte) (time.Time, error) {
	s, err := JSONString(b)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(jsonDate, s)
	if err != nil {
		return time.Time{}, jsonErr(b, "a date 2006-01-02", err)
	}
	return t, nil
}

// JSONTimeOfDay reads a Go duration string.
func JSONTimeOfDay(b []byte) (time.Duration, error) {
	s, err := JSONString(b)
	if err != nil {
		return 0, err
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, jsonErr(b, "a duration", err)
	}
	return d, nil
}

// JSONDuration reads the object AppendJSONDuration writes.
func JSONDuration(b []byte) (Duration, error) {
	var v struct {
		Months       uint32 `json:"months"`
		Days         uint32 `json:"days"`
		Milliseconds uint32 `json:"milliseconds"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return Duration{}, jsonErr(b, "an Avro duration", err)
	}
	return Duration{Months: v.Months, Days: v.Days, Milliseconds: v.Milliseconds}, nil
}

// JSONDecimal reads a decimal string ("1.254300"; a JSON number is
// accepted too), null as nil.
func JSONDecimal(b []byte) (*big.Rat, error) {
	if JSONIsNull(b) {
		return nil, nil
	}
	var s string
	if json.Unmarshal(b, &s) != nil {
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return nil, jsonErr(b, "a decimal string", err)
		}
		s = string(n)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok || slices.Contains([]byte(s), '/') {
		return nil, jsonErr(b, "a decimal string", nil)
	}
	return r, nil
}
