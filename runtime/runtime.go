// Package runtime is what generated stream jobs link against: the direct
// micro-batch engine, consumer and location strategies, delivery semantics,
// offset stores, sinks and serde.
package runtime

// SupportPackageIsVersion1 is referenced by generated code
// (`const _ = runtime.SupportPackageIsVersion1`). When the runtime changes in
// a way that old generated code cannot follow, the constant is renamed and
// stale generated code fails to compile, naming this constant: regenerate
// with `go generate ./...` (streamgen generate).
const SupportPackageIsVersion1 = true
