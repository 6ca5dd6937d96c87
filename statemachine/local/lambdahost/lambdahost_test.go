package lambdahost

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/sivchari/kumo"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/plan/plantest"
	"github.com/guardbots/guardbots/shared/statetable"
	"github.com/guardbots/guardbots/shared/steps"
)

const account = "111122223333"

// testEnv keeps the bootstraps away from any real AWS configuration on the machine.
var testEnv = []string{
	"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_SESSION_TOKEN=",
	"AWS_REGION=us-east-1", "AWS_PROFILE=", "AWS_CONFIG_FILE=/dev/null",
	"AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true",
	"GUARDBOTS_ACCOUNT_ID=" + account,
}

func testConfig(endpoint string) aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(endpoint),
	}
}

var (
	buildOnce sync.Once
	buildDir  string
	binaries  map[string]string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// built compiles the bootstraps these tests run, once per test binary.
func built(t *testing.T) map[string]string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs Lambda bootstraps")
	}
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "guardbots-bootstraps-")
		if buildErr != nil {
			return
		}
		binaries, buildErr = Build(context.Background(), filepath.Join("..", "..", ".."), buildDir, map[string]string{
			"parse":             "./functions/parse",
			"ec2_stop_instance": "./functions/bots/ec2_stop_instance",
		})
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binaries
}

// start runs the named bootstraps behind a fresh kumo; env gets the emulator's URL. The plan signing
// key and the guardbots state machine are in kumo too: bots act only on a signed plan.
func start(t *testing.T, names []string, env func(kumoURL string) []string) (*Host, *kumo.Server, *plantest.Local) {
	t.Helper()
	bins := built(t)
	srv := kumo.NewServer()
	t.Cleanup(srv.Close)
	// Bot bootstraps refuse to start without the state table their rails use.
	table := "guardbots-state-" + strings.ReplaceAll(strings.ToLower(t.Name()), "_", "-")
	ddb := dynamodb.NewFromConfig(testConfig(srv.URL), func(o *dynamodb.Options) { o.DisableValidateResponseChecksum = true })
	if _, err := ddb.CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String(statetable.PartitionKey), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String(statetable.PartitionKey), KeyType: ddbtypes.KeyTypeHash}},
		BillingMode:          ddbtypes.BillingModePayPerRequest,
	}); err != nil {
		t.Fatal(err)
	}
	plans, err := plantest.New(context.Background(), testConfig(srv.URL), "guardbots-remediation")
	if err != nil {
		t.Fatal(err)
	}
	h := &Host{Endpoint: srv.URL, Lambda: lambda.NewFromConfig(testConfig(srv.URL)),
		// Every service at kumo unless a test points one elsewhere: nothing may reach real AWS.
		Env: append(append(append([]string{}, testEnv...), append([]string{"AWS_ENDPOINT_URL=" + srv.URL, deployment.EnvStateTable + "=" + table}, env(srv.URL)...)...), plans.Env()...)}
	t.Cleanup(h.Stop)
	for _, name := range names {
		if _, err := h.Start(context.Background(), name, bins[name]); err != nil {
			t.Fatal(err)
		}
	}
	return h, srv, plans
}

func noEnv(string) []string { return nil }

type invokeError struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
}

func invoke(t *testing.T, h *Host, fn string, payload []byte) (out []byte, fnErr *invokeError) {
	t.Helper()
	res, err := h.Lambda.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: payload})
	if err != nil {
		t.Fatal(err)
	}
	if res.FunctionError == nil {
		return res.Payload, nil
	}
	var e invokeError
	if err := json.Unmarshal(res.Payload, &e); err != nil {
		t.Fatalf("error payload %s: %v", res.Payload, err)
	}
	return nil, &e
}

func TestParseBootstrap_ReportsRejectionAsGuardbotsRejected(t *testing.T) {
	h, _, _ := start(t, []string{"parse"}, noEnv)
	_, e := invoke(t, h, "parse", []byte(`{"source":"aws.ec2","detail-type":"EC2 Instance State-change Notification","detail":{}}`))
	if e == nil || e.Type != "Guardbots.Rejected" {
		t.Fatalf("error = %+v, want errorType Guardbots.Rejected", e)
	}
	if e.Message == "" {
		t.Error("errorMessage is empty: the notification would not say what was wrong")
	}
}

// botInput is what the workflow sends ec2_stop_instance for the EC2 fixture about instanceID: the
// default mapping's action, signed as verify signs it for a running execution.
func botInput(t *testing.T, plans *plantest.Local, instanceID string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "finding", "testdata", "events", "ec2_malicious_ip_caller_custom.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := mapping.Parse(mapping.Default())
	if err != nil {
		t.Fatal(err)
	}
	f, d, err := steps.Decide(context.Background(), raw, m, mapping.MatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.Instance.ID = instanceID
	i := slices.IndexFunc(d.Actions, func(a mapping.Action) bool { return a.Bot == "ec2_stop_instance" })
	if i < 0 {
		t.Fatalf("the default mapping does not stop this instance: %+v", d)
	}
	exec, err := plans.Start(context.Background(), fmt.Sprintf("%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = plans.Stop(context.Background(), exec) })
	in := steps.BotInput{Finding: f, Action: d.Actions[i], Index: i, Execution: exec, MappingKey: d.Key}
	if err := plans.Sign(context.Background(), &in); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBotBootstrap_StopsAKumoInstanceAndReportsTheResult(t *testing.T) {
	h, srv, plans := start(t, []string{"ec2_stop_instance"}, noEnv)
	ec2c := ec2.NewFromConfig(testConfig(srv.URL))
	run, err := ec2c.RunInstances(context.Background(), &ec2.RunInstancesInput{ImageId: aws.String("ami-12345678"),
		InstanceType: ec2types.InstanceTypeT3Micro, MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(run.Instances[0].InstanceId)
	// A direct invoke with the plan unsigned: the real bootstrap refuses it, and the instance runs.
	var unsigned steps.BotInput
	if err := json.Unmarshal(botInput(t, plans, id), &unsigned); err != nil {
		t.Fatal(err)
	}
	unsigned.Action.Signature = nil
	b, _ := json.Marshal(unsigned)
	if _, e := invoke(t, h, "ec2_stop_instance", b); e == nil || e.Type != "Guardbots.Rejected" || !strings.Contains(e.Message, "no signature") {
		t.Fatalf("unsigned plan: error = %+v, want errorType Guardbots.Rejected", e)
	}
	out, e := invoke(t, h, "ec2_stop_instance", botInput(t, plans, id))
	if e != nil {
		t.Fatalf("bot failed: %+v", e)
	}
	var res bots.Result
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusRemediated || res.Account != account {
		t.Fatalf("result = %+v", res)
	}
	desc, err := ec2c.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	if st := desc.Reservations[0].Instances[0].State.Name; st != ec2types.InstanceStateNameStopped && st != ec2types.InstanceStateNameStopping {
		t.Fatalf("instance state = %s after the bot ran", st)
	}
}

func TestBotBootstrap_ReportsAccessDeniedAsGuardbotsFailed(t *testing.T) {
	denied := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors><RequestID>r-1</RequestID></Response>`))
	}))
	t.Cleanup(denied.Close)
	h, _, plans := start(t, []string{"ec2_stop_instance"}, func(string) []string { return []string{"AWS_ENDPOINT_URL_EC2=" + denied.URL} })
	_, e := invoke(t, h, "ec2_stop_instance", botInput(t, plans, "i-0abc1234def567890"))
	if e == nil || e.Type != "Guardbots.Failed" {
		t.Fatalf("error = %+v, want errorType Guardbots.Failed", e)
	}
}

// A bootstrap that dies is reported at once with its name and how it ended (a Lambda runtime never exits
// on its own); the ones Stop ends are not.
func TestHost_ReportsABootstrapThatExitsButNotOneItStops(t *testing.T) {
	h, _, _ := start(t, nil, noEnv)
	exits := make(chan string, 4)
	h.OnExit = func(p *Process, err error) { exits <- p.Name + ": " + err.Error() }
	p, err := h.Start(context.Background(), "parse", built(t)["parse"])
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-exits:
		if got != "parse: signal: killed" {
			t.Errorf("reported %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a killed bootstrap was not reported")
	}
	if _, err := h.Start(context.Background(), "parse", built(t)["parse"]); err != nil {
		t.Fatal(err)
	}
	h.Stop()
	select {
	case got := <-exits:
		t.Errorf("a bootstrap Stop ended was reported: %q", got)
	case <-time.After(200 * time.Millisecond):
	}
	if _, err := h.Start(context.Background(), "parse", built(t)["parse"]); err == nil {
		t.Error("a stopped host started a bootstrap")
	}
}

// The host keeps the end of a bootstrap's output, not all of it: the count of bytes stays exact.
func TestLogTail_CountsEverythingAndKeepsTheEnd(t *testing.T) {
	var l logTail
	line := []byte(strings.Repeat("x", 999) + "\n")
	for range 300 {
		l.Write(line)
	}
	l.Write([]byte("last line\n"))
	p := &Process{logs: &l}
	if l.total != 300*1000+10 {
		t.Errorf("counted %d bytes", l.total)
	}
	if got := p.Logs(); len(got) != LogTail || !strings.HasSuffix(got, "last line\n") {
		t.Errorf("kept %d bytes ending %q", len(got), got[max(0, len(got)-20):])
	}
	if cap(l.buf) > 2*LogTail+len(line) {
		t.Errorf("holds %d bytes", cap(l.buf))
	}
	if got := p.LastLogs(1500); !strings.HasPrefix(got, "…x") || !strings.HasSuffix(got, "last line\n") || len(got) > 1500+len("…") {
		t.Errorf("last logs %q", got)
	}
}
