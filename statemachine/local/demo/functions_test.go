package demo

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/guardbots/guardbots/shared/deployment"
)

// The local stack runs what the CDK app deploys: shared/deployment's functions, each registered with
// its timeout and memory size and started with its whole environment; only where its AWS calls go is
// local.
func TestStack_RunsTheDeploymentsFunctionsWithTheirSettings(t *testing.T) {
	s := newStack(t, Options{DryRun: true})
	opts := Options{DryRun: true}
	fns := deployment.Functions(deployment.DefaultSettings(), deployment.Resources{})
	var names []string
	for _, f := range fns {
		names = append(names, f.Name)
	}
	slices.Sort(names)
	if !slices.Equal(s.Functions, names) {
		t.Fatalf("the stack runs %v, the deployment has %v", s.Functions, names)
	}
	lc := lambda.NewFromConfig(s.AWS)
	for _, name := range names {
		f, ok := s.function(name, opts)
		if !ok {
			t.Fatalf("%s: not in the deployment", name)
		}
		cfg, err := lc.GetFunctionConfiguration(context.Background(), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		if time.Duration(aws.ToInt32(cfg.Timeout))*time.Second != f.Timeout || int(aws.ToInt32(cfg.MemorySize)) != f.MemoryMiB {
			t.Errorf("%s: timeout %ds, memory %d MB; the deployment sets %v, %d MB", name, aws.ToInt32(cfg.Timeout), aws.ToInt32(cfg.MemorySize), f.Timeout, f.MemoryMiB)
		}
		env := s.functionEnv(name, opts)
		for k, v := range f.Env {
			if !slices.Contains(env, k+"="+v) {
				t.Errorf("%s: %s=%s is not in its local environment %v", name, k, v, env)
			}
		}
		// Beyond the deployment's: only where a stand-in answers instead of kumo (verify has two: GuardDuty
		// and Organizations).
		for _, kv := range env {
			k, _, _ := strings.Cut(kv, "=")
			if _, ok := f.Env[k]; !ok && !strings.HasPrefix(k, "AWS_ENDPOINT_URL_") {
				t.Errorf("%s: %s is beyond the deployment's variables and no endpoint override", name, kv)
			}
		}
		if extra := len(env) - len(f.Env); extra > 2 {
			t.Errorf("%s: %d variables beyond the deployment's: %v", name, extra, env)
		}
	}
	if f, _ := s.function("ec2_stop_instance", opts); f.Env[deployment.EnvDryRun] != "true" || f.Env[deployment.EnvStateTable] != s.Table {
		t.Errorf("a bot's settings and resources are not the stack's: %v", f.Env)
	}
}
