package registry

import (
	"fmt"

	"github.com/streamgen/streamgen/runtime/codec"
)

func standalone(s Schema, lookup func(subject string, version int) (Schema, bool)) (string, error) {
	var refs []string
	done := map[string]bool{}
	var collect func(s Schema) error
	collect = func(s Schema) error {
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
			if err := collect(ref); err != nil {
				return err
			}
			refs = append(refs, ref.Text)
		}
		return nil
	}
	if err := collect(s); err != nil {
		return "", err
	}
	out, err := codec.WithReferences(s.Text, refs)
	if err != nil {
		return "", fmt.Errorf("%s: %w", s.Label(), err)
	}
	return out, nil
}
