package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/streamgen/streamgen/runtime/side"
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

// The model's file and how often it is loaded again, deliberately not
// named like the job's settings (ANOMALY_DETECTOR_*): Main warns of every
// variable with the job's prefix that is not one of its settings.
const (
	modelFileEnv     = "MODEL_FILE"            // default model.json, in the working directory
	modelIntervalEnv = "MODEL_RELOAD_INTERVAL" // default 30s
)

// newModel is the model side input: path loaded before the first batch,
// then every interval and on POST /side/model/reload. The first load
// must succeed (it is tried 3 more times), or the job does not start; a
// reload that fails (the file missing, half written, not a model) keeps
// the model the job has, logs a WARN and is tried again.
func newModel(path string, interval time.Duration) *side.Value[Model] {
	return side.NewValue("model", func(context.Context) (Model, error) { return readModel(path) }, side.Interval(interval))
}

// modelFromEnv is newModel of MODEL_FILE and MODEL_RELOAD_INTERVAL.
func modelFromEnv() (*side.Value[Model], error) {
	path, interval := "model.json", 30*time.Second
	if p := os.Getenv(modelFileEnv); p != "" {
		path = p
	}
	if s := os.Getenv(modelIntervalEnv); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("%s=%q: want a duration such as 30s or 5m", modelIntervalEnv, s)
		}
		interval = d
	}
	return newModel(path, interval), nil
}

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
