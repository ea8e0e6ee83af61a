// Command etl-warehouse-parquet copies impressions from Kafka into
// Parquet files on object storage for the data warehouse, exactly once:
// a file per partition and hour, kept open across batches and published
// once its hour has passed (or by the sink.roll limits), under
// ETL_WAREHOUSE_PARQUET_SINK_URL (or --sink-url; no default), laid out as
// topic=T/dt=YYYY-MM-DD/hour=HH/partition=P/FROM-UNTIL.parquet, each
// published with the partition's offsets by a conditional create.
package main

//go:generate go run github.com/streamgen/streamgen/cmd/streamgen generate

import "github.com/streamgen/streamgen/examples/etl-warehouse-parquet/lake"

func main() { lake.Main(lake.Passthrough()) }
