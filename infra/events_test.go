package main

import (
	"strings"
	"testing"

	"github.com/guardbots/guardbots/shared/deployment"
)

func TestOutcomeEvents_NotifyPutsOnlyGuardbotsEventsOnTheDefaultBus(t *testing.T) {
	for _, stack := range []string{orch, defaultOf(orch)} {
		found := false
		for _, p := range resources(t, stack, "AWS::IAM::Policy") {
			for _, s := range statements(props(p)["PolicyDocument"]) {
				if s["Sid"] != "PutOutcomeEvents" {
					continue
				}
				found = true
				if js(s["Action"]) != `"events:PutEvents"` || !strings.Contains(js(s["Resource"]), `:event-bus/default"`) ||
					js(s["Condition"]) != `{"ForAllValues:StringEquals":{"events:detail-type":"Guardbots Outcome","events:source":"guardbots"},"Null":{"events:detail-type":"false","events:source":"false"}}` {
					t.Errorf("%s: %s", stack, js(s))
				}
			}
		}
		if !found {
			t.Errorf("%s: notify may not put its events", stack)
		}
	}
	if got := functionEnv(t, orch, deployment.StepNotify)[deployment.EnvEventBus]; got != "default" {
		t.Errorf("notify's %s = %v", deployment.EnvEventBus, got)
	}
}

func TestOutcomeEvents_APIDestinationExampleOnlyWhenConfigured(t *testing.T) {
	if n := len(resources(t, defaultOf(orch), "AWS::Events::ApiDestination")); n != 0 {
		t.Errorf("no context: %d API destinations", n)
	}
	_, dest := only(t, orch, "AWS::Events::ApiDestination")
	if p := props(dest); p["InvocationEndpoint"] != fixtureCfg.Outputs.APIEndpoint || p["HttpMethod"] != "POST" || js(p["InvocationRateLimitPerSecond"]) != "10" {
		t.Errorf("destination %s", js(p))
	}
	_, conn := only(t, orch, "AWS::Events::Connection")
	auth := js(props(conn)["AuthParameters"])
	if props(conn)["AuthorizationType"] != "API_KEY" || !strings.Contains(auth, `"ApiKeyName":"X-Api-Key"`) ||
		!strings.Contains(auth, "{{resolve:secretsmanager:"+fixtureCfg.Outputs.APISecretArn+":SecretString:::}}") {
		t.Errorf("connection %s: want the API key resolved from the secret at deploy time", js(props(conn)))
	}
	var rule map[string]any
	for id, r := range resources(t, orch, "AWS::Events::Rule") {
		if strings.HasPrefix(id, "OutcomesToApi") {
			rule = r
		}
	}
	if rule == nil {
		t.Fatal("no rule to the API destination")
	}
	pattern := js(props(rule)["EventPattern"])
	for _, want := range []string{`"source":["guardbots"]`, `"detail-type":["Guardbots Outcome"]`, `"detail":{"outcome":["failed","held"],"version":["1"]}`, `"account":[{"Ref":"AWS::AccountId"}]`} {
		if !strings.Contains(pattern, want) {
			t.Errorf("pattern %s lacks %s", pattern, want)
		}
	}
	target := js(props(rule)["Targets"])
	if !strings.Contains(target, `"InputPath":"$.detail"`) || !strings.Contains(target, `"DeadLetterConfig"`) || !strings.Contains(target, `"MaximumRetryAttempts":8`) {
		t.Errorf("target %s", target)
	}
}

func TestOutputs_Validate(t *testing.T) {
	good := Outputs{APIEndpoint: "https://x.example/hook", APISecretArn: "arn:aws:secretsmanager:us-east-1:111122223333:secret:k-AbCdEf", APIKeyHeader: "Authorization", APIOutcomes: []string{"failed"}}
	if errs := good.validate(); len(errs) != 0 {
		t.Fatalf("good outputs: %v", errs)
	}
	for name, edit := range map[string]func(*Outputs){
		"plain http":         func(o *Outputs) { o.APIEndpoint = "http://x.example/hook" },
		"credentials in url": func(o *Outputs) { o.APIEndpoint = "https://user:pw@x.example/hook" },
		"no secret":          func(o *Outputs) { o.APISecretArn = "" },
		"header injection":   func(o *Outputs) { o.APIKeyHeader = "X-Key: a\r\nHost" },
		"unknown outcome":    func(o *Outputs) { o.APIOutcomes = []string{"pwned"} },
		"no outcome":         func(o *Outputs) { o.APIOutcomes = nil },
	} {
		o := good
		edit(&o)
		if len(o.validate()) == 0 {
			t.Errorf("%s: accepted", name)
		}
	}
	if errs := (Outputs{APISecretArn: good.APISecretArn}).validate(); len(errs) == 0 {
		t.Error("a secret without an endpoint accepted")
	}
}
