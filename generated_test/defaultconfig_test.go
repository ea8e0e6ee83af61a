package generated_test

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/streamgen/streamgen/examples/anomaly-detector/anomalies"
	"github.com/streamgen/streamgen/generated_test/cases/alltypes/alltypes"
	"github.com/streamgen/streamgen/runtime/config"
)

// TestDefaultConfigIsSpecOverDefaults: the generated DefaultConfig is
// config.Default with what the spec sets, and its code shows only that.
func TestDefaultConfigIsSpecOverDefaults(t *testing.T) {
	want := config.Default()
	want.Group = "alltypes-test" // the only job setting of its spec
	if got := alltypes.DefaultConfig().Job; !reflect.DeepEqual(got, want) {
		t.Errorf("alltypes DefaultConfig:\n got %+v\nwant %+v", got, want)
	}
	src, err := os.ReadFile("cases/alltypes/alltypes/streams.go")
	if err != nil {
		t.Fatal(err)
	}
	_, body, _ := strings.Cut(string(src), "func DefaultConfig() Config {\n")
	body, _, _ = strings.Cut(body, "\n}\n")
	if wantBody := "\tc := Config{sgruntime.NewJobConfig(JobName)}\n\tc.Group = \"alltypes-test\"\n\tc.ExpandEnv(sgos.LookupEnv)\n\treturn c"; body != wantBody {
		t.Errorf("alltypes DefaultConfig's body:\n%s\nwant:\n%s", body, wantBody)
	}

	// The anomaly detector sets enums, a duration, a rate and a
	// runtime value; the rest stays config.Default's.
	t.Setenv("ANOMALY_DETECTOR_BROKERS", "k1:9092")
	t.Setenv("ANOMALY_DETECTOR_STATUS_ADDR", ":9999")
	want = config.Default()
	want.Brokers, want.Group, want.StartFrom = []string{"k1:9092"}, "anomaly-detector", config.StartLatest()
	want.BatchInterval, want.MaxRatePerPartition, want.StatusAddr = time.Second, 5000, ":9999"
	want.Semantics = config.AtMostOnce
	if got := anomalies.DefaultConfig().Job; !reflect.DeepEqual(got, want) {
		t.Errorf("anomaly detector DefaultConfig:\n got %+v\nwant %+v", got, want)
	}
}
