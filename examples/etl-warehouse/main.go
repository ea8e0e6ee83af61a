// Command etl-warehouse copies impressions from Kafka into Avro files for
// the data warehouse, exactly once: one file per partition and batch under
// ETL_WAREHOUSE_SINK_DIR (or --sink-dir; no default), laid out as topic=T/partition=P/FROM-UNTIL.avro, each
// published atomically with the batch's offsets, which are the files.
package main

//go:generate go run github.com/streamgen/streamgen/cmd/streamgen generate

import "github.com/streamgen/streamgen/examples/etl-warehouse/warehouse"

func main() { warehouse.Main(warehouse.Passthrough()) }
