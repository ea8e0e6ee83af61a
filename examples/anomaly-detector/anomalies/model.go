package anomalies

// This file is the anomaly detector's own, beside the generated code:
// the model the spec's values: entry names, and LoadModel, the one
// function the generated Run needs to load it.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/streamgen/streamgen/runtime"
)

// Model is the thresholds a batch is judged by. A batch job recomputes
// them and rewrites the model file; the detector loads the file before its
// first batch and again on a schedule, and a batch sees one model from
// start to end.
type Model struct {
	// Version names the model in the anomalies it flags.
	Version string `json:"version"`
	// Factor: a campaign is flagged with more than Factor times the
	// batch's mean impressions per campaign ...
	Factor float64 `json:"factor"`
	// ... and at least MinImpressions of them.
	MinImpressions int `json:"min_impressions"`
}

// ModelFile is the model's file, a setting of the job's own read by Main
// as the runtime's are: --model-file, else ANOMALY_DETECTOR_MODEL_FILE,
// else model.json; --help lists it. A test that calls Run may set it.
var ModelFile = runtime.Setting("model.file", "model.json",
	"the JSON file of the anomaly model, read before the first batch and again every --values-model-interval and on POST /side/model/reload")

// LoadModel loads value model (streamgen.yaml's values:), which the
// generated Run calls before the first batch, then every
// --values-model-interval and on POST /side/model/reload. The first load
// must succeed (it is tried 3 more times), or the job does not start; a
// reload that fails (the file missing, half written, not a model) keeps
// the model the job has, logs a WARN and is tried again.
func LoadModel(context.Context) (Model, error) { return readModel(*ModelFile) }

// readModel reads and checks the model at path. A writer should write
// another file and rename it over path; one that writes in place may be
// read half written, which fails here and is read again.
func readModel(path string) (Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Model{}, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields() // a misspelled threshold is an error, not a zero
	var m Model
	if err := dec.Decode(&m); err != nil {
		return Model{}, fmt.Errorf("model %s: %w", path, err)
	}
	if dec.More() {
		return Model{}, fmt.Errorf("model %s: more than one JSON value", path)
	}
	var errs []error
	if m.Factor <= 0 {
		errs = append(errs, fmt.Errorf("factor %v is not above 0", m.Factor))
	}
	if m.MinImpressions < 0 {
		errs = append(errs, fmt.Errorf("min_impressions %d is below 0", m.MinImpressions))
	}
	if err := errors.Join(errs...); err != nil {
		return Model{}, fmt.Errorf("model %s: %w", path, err)
	}
	return m, nil
}
