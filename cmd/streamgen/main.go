// Command streamgen generates typed Go stream jobs from Avro schemas and a
// job spec. See the repository README.
package main

import (
	"os"

	"github.com/streamgen/streamgen/gen/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) }
