// Package peers benchmarks the generated codec against the other Avro code
// generators for Go, gogen-avro and heetch/avro, beside hamba/avro and
// goavro, in one test binary (one run): a separate module, so that the
// peers are no dependency of streamgen. gogen/ and heetchgen/ are their
// generators' output for schemas/impression.avsc:
//
//	go run github.com/actgardner/gogen-avro/v10/cmd/gogen-avro@v10.2.1 -package gogen ./gogen ../../schemas/impression.avsc
//	go run github.com/heetch/avro/cmd/avrogo@v0.3.1 -p heetchgen -d ./heetchgen ../../schemas/impression.avsc
//
// scripts/bench.sh runs its benchmarks into BENCHMARKS.md.
package peers
