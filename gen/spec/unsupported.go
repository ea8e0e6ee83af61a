package spec

// Unsupported reports, at their positions in the file, the settings this
// streamgen's runtime cannot run yet (config.Job.Unsupported): a sink, an
// offsets store or semantics it would otherwise ignore. The spec format
// has them; generating a job from them is refused.
func (s *Spec) Unsupported() error {
	var errs, derived ErrorList
	for _, u := range s.Job.Unsupported() {
		if pos := s.At(u.Setting); pos.Line > 0 {
			errs = append(errs, s.Errorf(pos, "%s", u))
		} else { // derived from another key (offsets.store from the sink)
			derived = append(derived, s.Errorf(s.At("semantics"), "%s", u))
		}
	}
	if len(errs) == 0 {
		errs = derived // else the key it follows from is reported already
	}
	errs.sort()
	return errs.Err()
}

// At is where the key at path ("sink.type") was written: its value, else
// the key, else the zero Pos naming only the file.
func (s *Spec) At(path string) Pos {
	if p, ok := s.positions[path]; ok {
		return p
	}
	return Pos{File: s.File}
}
