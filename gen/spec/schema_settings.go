package spec

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/streamgen/streamgen/runtime/config"
)

// SchemaWithSettings is the JSON Schema base (streamgen.schema.json) with
// the properties of table's spec keys written from their entries: type,
// default, enum and description. The rest of each key's node (a pattern,
// a list's items, a minimum length) and every other part of base are
// kept. streamgen.schema.json is this of itself and config.Settings(),
// which TestJSONSchemaIsTheSettingsTable checks (go test ./gen/spec -run
// JSONSchemaIsTheSettingsTable -update rewrites it).
func SchemaWithSettings(base []byte, table []config.Setting) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(base, &doc); err != nil {
		return nil, fmt.Errorf("JSON Schema: %w", err)
	}
	for i := range table {
		s := &table[i]
		if s.NotInSpec {
			continue
		}
		node := schemaNode(doc, s.Key)
		for _, k := range []string{"type", "$ref", "enum", "anyOf", "default", "minimum", "description"} {
			delete(node, k)
		}
		settingSchema(s, node)
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// schemaNode is the node of a dotted key in the schema's properties,
// made (with the objects on its way) where it is missing.
func schemaNode(doc map[string]any, key string) map[string]any {
	node := doc
	parts := strings.Split(key, ".")
	for i, part := range parts {
		props, ok := node["properties"].(map[string]any)
		if !ok {
			props = map[string]any{}
			node["properties"] = props
		}
		next, ok := props[part].(map[string]any)
		if !ok {
			next = map[string]any{}
			if i < len(parts)-1 {
				next["type"] = []any{"object", "null"}
				next["additionalProperties"] = false
			}
			props[part] = next
		}
		node = next
	}
	return node
}

// settingSchema writes the setting's type, default, enum and description
// into its node.
func settingSchema(s *config.Setting, node map[string]any) {
	node["description"] = s.Help
	minimum := 0
	if s.Positive {
		minimum = 1
	}
	hasDefault := true
	switch p := s.Value(&config.Job{}).(type) {
	case *string:
		if len(s.Words) > 0 {
			node["anyOf"] = []any{map[string]any{"enum": s.Words}, map[string]any{"$ref": "#/$defs/envRef"}}
		} else {
			node["type"] = "string"
			hasDefault = s.DefaultValue() != ""
		}
	case *[]string:
		node["type"] = "array"
	case *time.Duration:
		node["$ref"] = "#/$defs/duration"
	case *int, *int64:
		node["type"], node["minimum"] = "integer", minimum
	case *float64:
		node["type"], node["minimum"] = "number", 0
	case *bool:
		node["type"] = "boolean"
	case *config.StartPosition:
		node["type"] = "string"
	case *map[string]string:
		node["type"] = "object"
		hasDefault = false
	case interface{ Names() []string }:
		node["enum"] = p.Names()
	}
	if hasDefault {
		node["default"] = specValue(s.DefaultValue())
	}
}

// specValue is a setting's value as the spec writes it: words for enums,
// Go durations, JSON numbers and lists.
func specValue(v any) any {
	switch v := v.(type) {
	case time.Duration:
		return v.String()
	case encoding.TextMarshaler:
		b, err := v.MarshalText()
		if err != nil {
			panic(fmt.Sprintf("spec: a default that does not marshal: %v", err))
		}
		return string(b)
	}
	return v
}
