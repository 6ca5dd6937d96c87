package botstep

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/metrics"
	"github.com/guardbots/guardbots/shared/steps"
)

func TestActionRecord_StatusPerResultOrError(t *testing.T) {
	in := steps.BotInput{Finding: &finding.Finding{ID: "f1", AccountID: "111122223333", Region: "eu-west-1"}, Execution: "arn:x"}
	cases := []struct {
		res  bots.Result
		err  error
		want string
	}{
		{bots.Result{Status: bots.StatusRemediated}, nil, "remediated"},
		{bots.Result{Status: bots.StatusSkipped, Held: true}, nil, "held"},
		{bots.Result{Status: bots.StatusDryRun, DryRun: true}, nil, "dry-run"},
		{bots.Result{}, faults.Rejectf("bad input"), "rejected"},
		{bots.Result{}, errors.New("AccessDenied"), "failed"},
		{bots.Result{Status: "made-up"}, nil, "other"},
	}
	for _, c := range cases {
		r := ActionRecord("ec2_stop_instance", in, c.res, c.err, time.Now())
		if r.Dims[metrics.DimStatus] != c.want || r.Dims[metrics.DimBot] != "ec2_stop_instance" || r.Properties["account"] != "111122223333" {
			t.Errorf("%+v / %v: %+v", c.res, c.err, r)
		}
	}
}

func TestMeasured_WritesOneRecordAndPassesTheResultThrough(t *testing.T) {
	var buf bytes.Buffer
	run := func(context.Context, steps.BotInput) (bots.Result, error) {
		return bots.Result{Bot: "ec2_stop_instance", Status: bots.StatusRemediated}, nil
	}
	res, err := Measured(&metrics.Emitter{W: &buf}, "ec2_stop_instance", run)(context.Background(), steps.BotInput{Finding: &finding.Finding{ID: "f"}})
	if err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("%+v %v", res, err)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil || doc["Status"] != "remediated" || doc["Actions"] != float64(1) {
		t.Errorf("%s (%v)", buf.String(), err)
	}
}
