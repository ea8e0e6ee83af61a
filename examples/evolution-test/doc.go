// Package evolutiontest shows a schema-evolution test of generated types
// with runtime/avrotest: evolution_test.go checks that the Impression this
// job is generated from (schemas/evolution/impression_v3.avsc) reads the
// records written with the schema's earlier versions, with which defaults,
// and which of its own records the earlier versions cannot read. Run it
// with `go test ./examples/evolution-test`.
package evolutiontest

//go:generate go run github.com/streamgen/streamgen/cmd/streamgen generate
