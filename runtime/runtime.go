// Package runtime is what generated stream jobs link against: the direct
// micro-batch engine, consumer and location strategies, delivery semantics,
// offset stores, sinks and serde.
//
// The job's configuration is defined once, in package runtime/config,
// which the generator and the runtime share. The values a hand-written
// job names (Semantics, DecodePolicy, StartPosition, ResetPolicy and
// their constants) are re-exported here under the same names, so such a
// job imports runtime alone: runtime.ExactlyOnce is config.ExactlyOnce.
package runtime

// SupportPackageIsVersion1 is referenced by generated code
// (`const _ = runtime.SupportPackageIsVersion1`). When the runtime changes in
// a way that old generated code cannot follow, the constant is renamed and
// stale generated code fails to compile, naming this constant: regenerate
// with `go generate ./...` (streamgen generate).
const SupportPackageIsVersion1 = true
