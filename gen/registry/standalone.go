package registry

import (
	"fmt"

	"github.com/hamba/avro/v2"

	"github.com/streamgen/streamgen/runtime/codec"
)

func standalone(s Schema, lookup func(subject string, version int) (Schema, bool)) (string, error) {
	cache := &avro.SchemaCache{}
	done := map[string]bool{}
	var load func(s Schema) error
	load = func(s Schema) error {
		for _, r := range s.References {
			key := fmt.Sprintf("%s@%d", r.Subject, r.Version)
			if done[key] {
				continue
			}
			done[key] = true
			ref, ok := lookup(r.Subject, r.Version)
			if !ok {
				return fmt.Errorf("%s: reference %q (%s) was not fetched", s.Label(), r.Name, key)
			}
			if err := load(ref); err != nil {
				return err
			}
			if _, err := avro.ParseWithCache(ref.Text, "", cache); err != nil {
				return fmt.Errorf("%s: %w", ref.Label(), err)
			}
		}
		return nil
	}
	if err := load(s); err != nil {
		return "", err
	}
	parsed, err := avro.ParseWithCache(s.Text, "", cache)
	if err != nil {
		return "", fmt.Errorf("%s: %w", s.Label(), err)
	}
	return codec.SchemaJSON(parsed)
}
