// Package duckdbtest checks that DuckDB reads the Parquet warehouse the
// blob sink writes: its tests write records of every Avro type through
// sink.OpenBlob with Hive partitions, then query them with
// read_parquet(..., hive_partitioning = true). It is a module of its own
// so that the main module stays free of cgo (DuckDB is C++); the Makefile's
// duckdb target runs it.
package duckdbtest
