package spec

import (
	"maps"

	"github.com/streamgen/streamgen/runtime/config"
)

// Job is the job configuration the spec describes: config.Default with
// every value the spec sets or derives (the group from the name, the
// offsets store from an exactly-once sink). Runtime values keep their
// ${VAR} references; the generated DefaultConfig holds this.
func (s *Spec) Job() config.Job {
	j := config.Default()
	k, b := s.Kafka, s.Batch
	j.Brokers = append([]string(nil), k.Brokers...)
	j.Group = k.Group
	if r := s.Schemas.Registry; r != nil {
		j.RegistryURL = r.URLText
		j.RegistryCA, j.RegistryCert, j.RegistryKey = r.TLSText.CA, r.TLSText.Cert, r.TLSText.Key
		j.RegistryInsecureSkipVerify = r.TLSText.InsecureSkipVerify
	}
	j.StartFrom, j.ResetTo, j.Isolation = k.StartFrom, k.ResetTo, k.Isolation
	j.TLS, j.TLSCA, j.TLSCert, j.TLSKey, j.TLSInsecureSkipVerify = k.TLS.Enabled, k.TLS.CA, k.TLS.Cert, k.TLS.Key, k.TLS.InsecureSkipVerify
	j.SASLMechanism, j.SASLUsername, j.SASLPassword = k.SASL.Mechanism, k.SASL.Username, k.SASL.Password
	j.BatchInterval, j.MaxRatePerPartition, j.MinRatePerPartition = b.Interval, b.MaxRatePerPartition, b.MinRatePerPartition
	bp := b.Backpressure
	j.Backpressure, j.BackpressureInitialRate = bp.Enabled, bp.InitialRate
	j.BackpressureProportional, j.BackpressureIntegral, j.BackpressureDerived, j.BackpressureMinRate = bp.Proportional, bp.Integral, bp.Derived, bp.MinRate
	j.Location = s.Location.Strategy
	if len(s.Location.Fixed) > 0 {
		j.LocationFixed = maps.Clone(s.Location.Fixed)
	}
	j.Workers, j.Semantics = s.Workers, s.Semantics
	j.OffsetsStore, j.OffsetsDSN, j.OffsetsDir = s.Offsets.Store, s.Offsets.DSN, s.Offsets.Dir
	j.SinkType, j.SinkDir, j.SinkDSN, j.SinkTable, j.SinkTopic = s.Sink.Type, s.Sink.Dir, s.Sink.DSN, s.Sink.Table, s.Sink.Topic
	j.MaxFailures, j.RetryBackoff = s.Retries.MaxFailures, s.Retries.Backoff
	j.OnDecodeError, j.DeadLetterTopic = s.OnDecodeError, s.DeadLetterTopic
	j.ShutdownTimeout = s.Shutdown.Timeout
	j.StatusAddr = s.Status.Addr
	return j
}

// Unsupported reports, at their positions in the file, the settings this
// streamgen's runtime cannot run yet (config.Job.Unsupported): a sink, an
// offsets store or semantics it would otherwise ignore. The spec format
// has them; generating a job from them is refused.
func (s *Spec) Unsupported() error {
	var errs, derived ErrorList
	for _, u := range new(s.Job()).Unsupported() {
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
