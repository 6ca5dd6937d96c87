package guardduty_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/guardduty"
)

const okDetail = `{"schemaVersion":"2.0","accountId":"111122223333","region":"us-east-1","id":"a2c4e6f8a0b2","type":"UnauthorizedAccess:EC2/MaliciousIPCaller.Custom","severity":5,"resource":{"resourceType":"Instance","instanceDetails":{"instanceId":"i-0abc1234def567890"}},"service":{"count":1}}`

func event(detail string) string {
	return `{"version":"0","id":"e1","detail-type":"GuardDuty Finding","source":"aws.guardduty","account":"111122223333","time":"2025-03-04T10:07:46Z","region":"us-east-1","resources":[],"detail":` + detail + `}`
}

func with(field, value string) string {
	return strings.Replace(okDetail, `"`+field+`":`, `"`+field+`":`+value+`,"x`+field+`":`, 1)
}

func TestParse_RejectsNamingTheField(t *testing.T) {
	cases := []struct {
		name, in string
		want     []string
	}{
		{"empty", "", []string{"empty input"}},
		{"whitespace", "  \n", []string{"empty input"}},
		{"not JSON", "{nope", []string{"not JSON"}},
		{"not an object", `"GuardDuty Finding"`, []string{"JSON string, not an object"}},
		{"oversized", `{"a":"` + strings.Repeat("x", guardduty.MaxInputBytes) + `"}`, []string{"262144", "bytes"}},
		{"wrong source", `{"detail-type":"GuardDuty Finding","source":"aws.ec2","detail":{}}`, []string{`source "aws.ec2"`, `detail-type "GuardDuty Finding"`, `expected source "aws.guardduty"`}},
		{"wrong detail-type", `{"detail-type":"GuardDuty Runtime Protection Healthy","source":"aws.guardduty","detail":{}}`, []string{`detail-type "GuardDuty Runtime Protection Healthy"`, `"GuardDuty Finding"`}},
		{"detail not object", event(`[1]`), []string{"detail", "JSON array, not an object"}},
		{"detail missing", `{"detail-type":"GuardDuty Finding","source":"aws.guardduty"}`, []string{"detail is missing"}},
		{"missing type and id", event(`{"accountId":"111122223333","region":"us-east-1"}`), []string{"detail.type", "detail.id"}},
		{"missing account and region", event(`{"type":"Recon:EC2/Portscan","id":"x1"}`), []string{"detail.accountId", "detail.region"}},
		{"13-digit account", event(with("accountId", `"1234567891234"`)), []string{"detail.accountId", "1234567891234", "12-digit"}},
		{"9-digit account", event(with("accountId", `"123456789"`)), []string{"detail.accountId", "12-digit"}},
		{"bad region", event(with("region", `"moon-base"`)), []string{"detail.region", "moon-base"}},
		{"bad type", event(with("type", `"Portscan"`)), []string{"detail.type", "Portscan"}},
		{"bad partition", event(with("accountId", `"111122223333","partition":"azure"`)), []string{"detail.partition"}},
		{"severity out of range", event(with("severity", `42`)), []string{"detail.severity"}},
		{"id too long", event(with("id", `"`+strings.Repeat("a", 300)+`"`)), []string{"detail.id", "300 bytes"}},
		{"bad id characters", event(with("id", `"a b"`)), []string{"detail.id"}},
		{"unknown shape", `{"foo":1,"bar":2}`, []string{"not an EventBridge event, SNS record, GuardDuty finding or Security Hub event", "bar, foo"}},
		{"two SNS records", `{"Records":[{"Sns":{"Message":"{}"}},{"Sns":{"Message":"{}"}}]}`, []string{"Records has 2 records"}},
		{"zero SNS records", `{"Records":[]}`, []string{"Records has 0 records"}},
		{"SQS record", `{"Records":[{"EventSource":"aws:sqs","body":"{}"}]}`, []string{"Records[0].EventSource", "aws:sqs"}},
		{"SNS without message", `{"Records":[{"Sns":{}}]}`, []string{"Records[0].Sns.Message is missing"}},
		{"SNS message not JSON", `{"Records":[{"Sns":{"Message":"hello"}}]}`, []string{"Records[0].Sns.Message is not JSON"}},
		{"SNS message a number", `{"Records":[{"Sns":{"Message":5}}]}`, []string{"Records[0].Sns.Message is a JSON number"}},
		{"SNS message bad escape", `{"Records":[{"Sns":{"Message":"{\"a\":\"\\q\"}"}}]}`, []string{"Records[0].Sns.Message"}},
		{"SNS message wrong finding", `{"Records":[{"Sns":{"Message":` + `"{\"type\":\"Recon:EC2/Portscan\",\"id\":\"x\",\"resource\":{}}"` + `}}]}`, []string{"Records[0].Sns.Message.accountId", "Records[0].Sns.Message.region"}},
		{"SNS nested SNS", `{"Records":[{"Sns":{"Message":{"Records":[]}}}]}`, []string{"Records[0].Sns.Message", "has keys Records"}},
		{"bad remote IP", event(strings.Replace(okDetail, `"service":{`, `"service":{"action":{"networkConnectionAction":{"remoteIpDetails":{"ipAddressV4":"1.2.3.999"}}},`, 1)), []string{"detail.service.action.networkConnectionAction.remoteIpDetails.ipAddressV4", "1.2.3.999"}},
		{"bad port", event(strings.Replace(okDetail, `"service":{`, `"service":{"action":{"networkConnectionAction":{"localPortDetails":{"port":70000}}},`, 1)), []string{"localPortDetails.port"}},
		{"long tag", event(strings.Replace(okDetail, `"instanceId"`, `"tags":[{"key":"k","value":"`+strings.Repeat("v", 257)+`"}],"instanceId"`, 1)), []string{"detail.resource.instanceDetails.tags"}},
		{"too many tags", event(strings.Replace(okDetail, `"instanceId"`, `"tags":[`+strings.Repeat(`{"key":"k","value":"v"},`, 50)+`{"key":"k","value":"v"}],"instanceId"`, 1)), []string{"detail.resource.instanceDetails.tags", "51 tags"}},
		{"security hub no findings key", `{"detail-type":"Security Hub Findings - Imported","source":"aws.securityhub","detail":{}}`, []string{"detail.findings"}},
		{"security hub empty", `{"detail-type":"Security Hub Findings - Imported","source":"aws.securityhub","detail":{"findings":[]}}`, []string{"detail.findings is empty"}},
		{"security hub other product", `{"detail-type":"Security Hub Findings - Imported","source":"aws.securityhub","detail":{"findings":[{"ProductArn":"arn:aws:securityhub:us-east-1::product/aws/inspector","ProductName":"Inspector"}]}}`, []string{"no GuardDuty finding", "Inspector"}},
		{"security hub bad Id", `{"detail-type":"Security Hub Findings - Imported","source":"aws.securityhub","detail":{"findings":[{"ProductName":"GuardDuty","Id":"abc"}]}}`, []string{"detail.findings[0].Id", "not a GuardDuty finding ARN"}},
		{"security hub no type", `{"detail-type":"Security Hub Findings - Imported","source":"aws.securityhub","detail":{"findings":[{"ProductName":"GuardDuty","Id":"arn:aws:guardduty:us-east-1:111122223333:detector/d1/finding/f1","Types":["Effects/Data Exposure"]}]}}`, []string{"detail.findings[0].Types"}},
		{"security hub bad account", `{"detail-type":"Security Hub Findings - Imported","source":"aws.securityhub","detail":{"findings":[{"ProductName":"GuardDuty","Id":"arn:aws:guardduty:us-east-1:111122223333:detector/d1/finding/f1","Types":["TTPs/Recon:EC2-Portscan"],"AwsAccountId":"12"}]}}`, []string{"detail.findings[0].AwsAccountId"}},
		{"security hub finding not object", `{"detail-type":"Security Hub Findings - Imported","source":"aws.securityhub","detail":{"findings":[3]}}`, []string{"detail.findings[0]"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := guardduty.Parse([]byte(c.in))
			if err == nil {
				t.Fatal("accepted; want a rejection")
			}
			var fe *faults.Error
			if !errors.As(err, &fe) || fe.Kind != faults.Rejected {
				t.Fatalf("error %q is not a rejection", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestParse_AcceptsEveryRoute(t *testing.T) {
	escaped := strings.ReplaceAll(event(okDetail), `"`, `\"`)
	cases := []struct {
		name, in string
		want     guardduty.Source
	}{
		{"eventbridge", event(okDetail), guardduty.SourceEventBridge},
		{"bare", okDetail, guardduty.SourceDirect},
		{"sns string", `{"Records":[{"EventSource":"aws:sns","Sns":{"Message":"` + escaped + `"}}]}`, guardduty.SourceSNS},
		{"sns object", `{"Records":[{"Sns":{"Message":` + event(okDetail) + `}}]}`, guardduty.SourceSNS},
		{"sns bare", `{"Records":[{"Sns":{"Message":` + okDetail + `}}]}`, guardduty.SourceSNS},
		{"old numeric launchTime and asn", event(strings.Replace(okDetail, `"instanceId"`, `"launchTime":1510000000000,"instanceId"`, 1)), guardduty.SourceEventBridge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := guardduty.Parse([]byte(c.in))
			if err != nil {
				t.Fatal(err)
			}
			if p.Source != c.want || p.Finding.ID != "a2c4e6f8a0b2" || p.Finding.AccountID != "111122223333" {
				t.Errorf("got source %s id %s account %s", p.Source, p.Finding.ID, p.Finding.AccountID)
			}
		})
	}
}

func TestIsRegion_AcceptsEveryPartitionShape(t *testing.T) {
	for _, r := range []string{"us-east-1", "us-gov-west-1", "cn-northwest-1", "ap-southeast-5", "us-isob-east-1", "eu-central-2", "il-central-1", "mx-central-1"} {
		if !guardduty.IsRegion(r) {
			t.Errorf("IsRegion(%q) = false", r)
		}
	}
	for _, r := range []string{"", "us-east", "US-EAST-1", "us-east-1a", "useast1", "us--1", "x-east-1", "us-east-123"} {
		if guardduty.IsRegion(r) {
			t.Errorf("IsRegion(%q) = true", r)
		}
	}
}
