package guardduty_test

import (
	"encoding/json"
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
		{"not JSON", "{nope", []string{"not JSON", "line 1, column 2 (byte 1)"}},
		// Where it broke, not fastjson's nest of "cannot parse object value".
		{"not JSON, second line", "{\"a\": 1,\n \"b\" 2}", []string{"not JSON", "after object key at line 2, column 6 (byte 14)"}},
		{"not JSON, cut short", "{\"detail\": {\"id\": \"x\"\n\n", []string{"not JSON", "stops after line 1, column 21 (byte 20) before the JSON is complete"}},
		{"not JSON, trailing text", `{"a":1} x`, []string{"after top-level value at line 1, column 9"}},
		{"GetFindings response of two", `{"findings":[` + okDetail + `,` + okDetail + `]}`, []string{"findings holds 2 findings", "exactly one"}},
		{"CLI response of none", `{"Findings":[]}`, []string{"Findings holds 0 findings"}},
		{"PascalCase finding missing its account", `{"Type":"Recon:EC2/Portscan","Id":"x1","Region":"us-east-1","Resource":{"ResourceType":"Instance"}}`, []string{"accountId"}},
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
		{"SNS message not JSON", `{"Records":[{"Sns":{"Message":"hello"}}]}`, []string{"Records[0].Sns.Message is not JSON", "line 1, column 1 (byte 0) of the message"}},
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
		{"security hub bad Id", `{"detail-type":"Security Hub Findings - Imported","source":"aws.securityhub","detail":{"findings":[{"ProductArn":"arn:aws:securityhub:us-east-1::product/aws/guardduty","Id":"abc"}]}}`, []string{"detail.findings[0].Id", "not a GuardDuty finding ARN"}},
		{"security hub no type", `{"detail-type":"Security Hub Findings - Imported","source":"aws.securityhub","detail":{"findings":[{"ProductArn":"arn:aws:securityhub:us-east-1::product/aws/guardduty","Id":"arn:aws:guardduty:us-east-1:111122223333:detector/d1/finding/f1","Types":["Effects/Data Exposure"]}]}}`, []string{"detail.findings[0].Types"}},
		{"security hub bad account", `{"detail-type":"Security Hub Findings - Imported","source":"aws.securityhub","detail":{"findings":[{"ProductArn":"arn:aws:securityhub:us-east-1::product/aws/guardduty","Id":"arn:aws:guardduty:us-east-1:111122223333:detector/d1/finding/f1","Types":["TTPs/Recon:EC2-Portscan"],"AwsAccountId":"12"}]}}`, []string{"detail.findings[0].AwsAccountId"}},
		// A custom integration may call itself GuardDuty; only GuardDuty's product ARN is GuardDuty's.
		{"security hub custom product named GuardDuty", `{"detail-type":"Security Hub Findings - Imported","source":"aws.securityhub","detail":{"findings":[{"ProductArn":"arn:aws:securityhub:us-east-1:999988887777:product/999988887777/default","ProductName":"GuardDuty","CompanyName":"Amazon","Id":"arn:aws:guardduty:us-east-1:111122223333:detector/d1/finding/f1","Types":["TTPs/Recon:EC2-Portscan"],"AwsAccountId":"111122223333"}]}}`,
			[]string{"no GuardDuty finding", "GuardDuty (ProductArn arn:aws:securityhub:us-east-1:999988887777:product/999988887777/default)", "::product/aws/guardduty"}},
		{"security hub GuardDuty name without product ARN", `{"detail-type":"Security Hub Findings - Imported","source":"aws.securityhub","detail":{"findings":[{"ProductName":"GuardDuty","ProductFields":{"aws/securityhub/ProductName":"GuardDuty"},"Id":"arn:aws:guardduty:us-east-1:111122223333:detector/d1/finding/f1","Types":["TTPs/Recon:EC2-Portscan"],"AwsAccountId":"111122223333"}]}}`,
			[]string{"no GuardDuty finding", "no ProductArn"}},
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

func TestIsGuardDutyProductArn_OnlyGuardDutysOwnProduct(t *testing.T) {
	for _, a := range []string{"arn:aws:securityhub:us-east-1::product/aws/guardduty", "arn:aws-cn:securityhub:cn-north-1::product/aws/guardduty",
		"arn:aws-us-gov:securityhub:us-gov-west-1::product/aws/guardduty"} {
		if !guardduty.IsGuardDutyProductArn(a) {
			t.Errorf("%s: not accepted", a)
		}
	}
	for _, a := range []string{"", "arn:aws:securityhub:us-east-1:999988887777:product/999988887777/default",
		"arn:aws:securityhub:us-east-1:999988887777:product/aws/guardduty", // an account in the ARN: not AWS's product
		"arn:aws:securityhub:us-east-1::product/aws/guardduty/extra", "arn:aws:securityhub:::product/aws/guardduty",
		"arn:evil:securityhub:us-east-1::product/aws/guardduty", "arn:aws:securityhub:us-east-1::product/aws/inspector",
		"xarn:aws:securityhub:us-east-1::product/aws/guardduty", "arn:aws:securityhubx:us-east-1::product/aws/guardduty"} {
		if guardduty.IsGuardDutyProductArn(a) {
			t.Errorf("%s: accepted as GuardDuty's product", a)
		}
	}
}

// pascal is okDetail as the AWS CLI prints it (get-findings): the API model's member names.
const pascal = `{"SchemaVersion":"2.0","AccountId":"111122223333","Region":"us-east-1","Id":"a2c4e6f8a0b2","Type":"UnauthorizedAccess:EC2/MaliciousIPCaller.Custom","Severity":5,
 "Resource":{"ResourceType":"Instance","InstanceDetails":{"InstanceId":"i-0abc1234def567890","Tags":[{"Key":"Name","Value":"web"}]}},
 "Service":{"Count":1,"AdditionalInfo":{"Value":"{\"sample\":true}","Type":"default"},
  "Action":{"ActionType":"KUBERNETES_API_CALL","KubernetesApiCallAction":{"SourceIps":["198.51.100.7"],"RemoteIpDetails":{"IpAddressV4":"203.0.113.9"}}}}}`

func TestParse_AcceptsTheAWSCLIsPascalCaseFinding(t *testing.T) {
	for name, in := range map[string]string{"bare": pascal, "get-findings output": `{"Findings":[` + pascal + `]}`} {
		t.Run(name, func(t *testing.T) {
			p, err := guardduty.Parse([]byte(in))
			if err != nil {
				t.Fatal(err)
			}
			f := p.Finding
			if p.Source != guardduty.SourceDirect || f.ID != "a2c4e6f8a0b2" || f.AccountID != "111122223333" || f.Severity != 5 ||
				f.Resource.InstanceDetails == nil || f.Resource.InstanceDetails.InstanceID != "i-0abc1234def567890" ||
				len(f.Resource.InstanceDetails.Tags) != 1 || f.Resource.InstanceDetails.Tags[0].Value != "web" {
				t.Fatalf("decoded %+v", f)
			}
			k := f.Service.Action.KubernetesAPICallAction
			if k == nil || len(k.SourceIPs) != 1 || k.SourceIPs[0] != "198.51.100.7" || k.RemoteIPDetails.IPAddressV4 != "203.0.113.9" {
				t.Errorf("action %+v", f.Service.Action)
			}
			if f.Service.AdditionalInfo == nil || !f.Service.AdditionalInfo.Sample {
				t.Errorf("the sample marker in AdditionalInfo.Value was not read: %+v", f.Service.AdditionalInfo)
			}
		})
	}
}

func TestParse_PascalCaseFindingIsValidatedLikeAnyOther(t *testing.T) {
	bad := strings.Replace(pascal, `"IpAddressV4":"203.0.113.9"`, `"IpAddressV4":"203.0.113.999"`, 1)
	_, err := guardduty.Parse([]byte(bad))
	if faults.Classify(err) != faults.Rejected || !strings.Contains(err.Error(), "Service.Action.KubernetesApiCallAction.RemoteIpDetails.IpAddressV4") {
		t.Fatalf("err %v: want a rejection naming the PascalCase field", err)
	}
}

func TestFindingFromResponse_DecodesTheNamedFindingOnly(t *testing.T) {
	other := strings.Replace(okDetail, `"id":"a2c4e6f8a0b2"`, `"id":"ffff"`, 1)
	body := []byte(`{"findings":[` + other + `,` + okDetail + `]}`)
	f, found, err := guardduty.FindingFromResponse(body, "a2c4e6f8a0b2")
	if err != nil || !found || f.ID != "a2c4e6f8a0b2" || f.Resource.InstanceDetails.InstanceID != "i-0abc1234def567890" {
		t.Fatalf("found %v, %+v, %v", found, f, err)
	}
	if _, found, err := guardduty.FindingFromResponse(body, "nope"); found || err != nil {
		t.Errorf("unknown id: found %v, err %v", found, err)
	}
	if _, _, err := guardduty.FindingFromResponse([]byte(`{"unprocessedFindings":[]}`), "x"); faults.Classify(err) != faults.Failed {
		t.Errorf("no findings array: %v", err)
	}
	// GuardDuty's own copy goes through the same bounds as any input: nothing may act on one that fails.
	bad := []byte(`{"findings":[` + strings.Replace(okDetail, `"region":"us-east-1"`, `"region":"nowhere"`, 1) + `]}`)
	if _, found, err := guardduty.FindingFromResponse(bad, "a2c4e6f8a0b2"); !found || faults.Classify(err) != faults.Rejected {
		t.Errorf("invalid copy: found %v, err %v", found, err)
	}
}

func snsString(event string) string {
	b, _ := json.Marshal(event)
	return `{"Records":[{"EventSource":"aws:sns","Sns":{"Message":` + string(b) + `}}]}`
}

func rejected(t *testing.T, in string, want ...string) {
	t.Helper()
	_, err := guardduty.Parse([]byte(in))
	if faults.Classify(err) != faults.Rejected {
		t.Fatalf("err %v: want a rejection", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("message %q does not mention %q", err, w)
		}
	}
}

// Nesting is bounded without recursion: 100,000 nested arrays or objects, wherever they sit, are refused
// (or, in text the finding only searches for a marker, not read) and never exhaust a stack.
func TestParse_DeepNestingIsRefused(t *testing.T) {
	const n = 100_000
	deep := strings.Repeat("[", n) + strings.Repeat("]", n)
	deepObj := strings.Repeat(`{"a":`, n/5) + "1" + strings.Repeat("}", n/5)
	for name, in := range map[string]string{
		"input":                       deep,
		"object as input":             deepObj,
		"unread member of the detail": event(strings.Replace(okDetail, `"service":{`, `"service":{"evidence":`+deep+`,`, 1)),
		"SNS message":                 snsString(deep),
		"in the SNS message's event":  snsString(event(strings.Replace(okDetail, `"service":{`, `"service":{"evidence":`+deepObj+`,`, 1))),
	} {
		// encoding/json, which names where the input stops being JSON, has a limit of its own at 10,000.
		t.Run(name, func(t *testing.T) { rejected(t, in, "not JSON", "exceeded max depth") })
	}
	// Deeper than the decoder's limit of 300 (fastjson's), within encoding/json's.
	rejected(t, event(strings.Replace(okDetail, `"service":{`, `"service":{"evidence":`+strings.Repeat("[", 400)+strings.Repeat("]", 400)+`,`, 1)),
		"not JSON: too big depth for the nested JSON; it exceeds 300")
	// additionalInfo.value is JSON in a string, read only for the sample marker: too deep, it is not read.
	value, _ := json.Marshal(`{"sample":true,"x":` + deep + `}`)
	p, err := guardduty.Parse([]byte(event(strings.Replace(okDetail, `"service":{`, `"service":{"additionalInfo":{"value":`+string(value)+`},`, 1))))
	if err != nil || p.Finding.Service.AdditionalInfo == nil || p.Finding.Service.AdditionalInfo.Sample {
		t.Fatalf("err %v, %+v: want the finding, without the sample marker of text too deep to read", err, p)
	}
}

// A member the decoder reads that appears twice in its object is refused wherever it is: which one
// counts differs between JSON readers (fastjson took the first, or, when one name was escaped, whichever
// an earlier lookup left it to find).
func TestParse_RefusesRepeatedMembers(t *testing.T) {
	withService := func(member string) string {
		return event(strings.Replace(okDetail, `"service":{`, `"service":{`+member+`,`, 1))
	}
	for name, c := range map[string]struct{ in, want string }{
		"type in the detail":       {event(strings.Replace(okDetail, `"type":`, `"type":"Recon:EC2/Portscan","type":`, 1)), `member "type" more than once`},
		"escaped name":             {event(strings.Replace(okDetail, `"accountId":`, `"\u0061ccountId":"444455556666","accountId":`, 1)), `member "accountId" more than once`},
		"source of the event":      {strings.Replace(event(okDetail), `"source":"aws.guardduty"`, `"source":"aws.guardduty","source":"aws.securityhub"`, 1), `member "source" more than once`},
		"Records":                  {`{"Records":[{"Sns":{"Message":` + event(okDetail) + `}}],"Records":[]}`, `member "Records" more than once`},
		"first copy invalid":       {event(strings.Replace(okDetail, `"region":"us-east-1"`, `"region":"nowhere","region":"us-east-1"`, 1)), `member "region" more than once`},
		"in the SNS message":       {snsString(strings.Replace(event(okDetail), `"detail":`, `"detail":{},"detail":`, 1)), `Records[0].Sns.Message has the member "detail" more than once`},
		"instance id":              {event(strings.Replace(okDetail, `"instanceId":`, `"instanceId":"i-0123456789abcdef0","instanceId":`, 1)), `member "instanceId" more than once`},
		"remote IP":                {withService(`"action":{"networkConnectionAction":{"remoteIpDetails":{"ipAddressV4":"198.51.100.1","ipAddressV4":"203.0.113.9"}}}`), `member "ipAddressV4" more than once`},
		"affected resource":        {withService(`"action":{"awsApiCallAction":{"affectedResources":{"AWS::S3::Bucket":"a","AWS::S3::Bucket":"b"}}}`), `member "AWS::S3::Bucket" more than once`},
		"sample in additionalInfo": {withService(`"additionalInfo":{"value":"{\"sample\":false,\"sample\":true}"}`), `"sample" more than once`},
	} {
		t.Run(name, func(t *testing.T) { rejected(t, c.in, c.want) })
	}
	// A repeated member nothing reads is not ambiguous for guardbots, and stays accepted.
	if _, err := guardduty.Parse([]byte(event(strings.Replace(okDetail, `"service":{`, `"service":{"evidence":1,"evidence":2,`, 1)))); err != nil {
		t.Errorf("a repeated member nothing reads: %v", err)
	}
	// GuardDuty's own response never repeats a member: one that does is not acted on.
	body := `{"findings":[` + strings.Replace(okDetail, `"region":`, `"region":"eu-west-1","region":`, 1) + `]}`
	if _, _, err := guardduty.FindingFromResponse([]byte(body), "a2c4e6f8a0b2"); faults.Classify(err) != faults.Failed || !strings.Contains(err.Error(), `"region" more than once`) {
		t.Errorf("GetFindings response with a repeated member: %v", err)
	}
}

func TestParse_RefusesWhatIsNotJSON(t *testing.T) {
	unread := func(v string) string {
		return event(strings.Replace(okDetail, `"service":{`, `"service":{"evidence":`+v+`,`, 1))
	}
	for name, in := range map[string]string{
		"control character in a string": unread("\"a\tb\""),
		"invalid escape":                unread(`"\x41"`),
		"short \\u escape":              unread(`"\u12"`),
		"NaN":                           unread(`NaN`),
		"Infinity":                      unread(`-Infinity`),
		"leading zero":                  unread(`01`),
		"two points":                    unread(`1.2.3`),
		"plus sign":                     unread(`+1`),
		"in the SNS message":            snsString(unread(`[1,]`)),
	} {
		t.Run(name, func(t *testing.T) { rejected(t, in, "not JSON", "line 1, column") })
	}
}

// Strings decode as before: a lone surrogate escape in a value is kept as its six characters (as
// fastjson kept it), in the text of an SNS message it is U+FFFD (as encoding/json decodes it), and
// bytes that are not UTF-8 are kept as they are.
func TestParse_DecodesStringsAsBefore(t *testing.T) {
	detail := strings.Replace(okDetail, `"instanceId"`, `"tags":[{"key":"a\ud83db","value":"\ud83d\ude00 \u00e9 `+"\xff"+`"}],"instanceId"`, 1)
	// The SNS message is escaped by hand: json.Marshal would replace the byte that is not UTF-8.
	escaped := strings.ReplaceAll(strings.ReplaceAll(event(detail), `\`, `\\`), `"`, `\"`)
	for name, in := range map[string]string{"event": event(detail), "SNS object": `{"Records":[{"Sns":{"Message":` + event(detail) + `}}]}`,
		"SNS string": `{"Records":[{"Sns":{"Message":"` + escaped + `"}}]}`} {
		p, err := guardduty.Parse([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if tags := p.Finding.Resource.InstanceDetails.Tags; len(tags) != 1 || tags[0].Key != `a\ud83db` || tags[0].Value != "😀 é \xff" {
			t.Errorf("%s: tags %q", name, tags)
		}
	}
	// Escaped in the message itself (not in the event it holds), a lone surrogate is U+FFFD.
	in := `{"Records":[{"Sns":{"Message":"` + strings.Replace(escaped, `\\ud83db`, `\ud83db`, 1) + `"}}]}`
	p, err := guardduty.Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if tags := p.Finding.Resource.InstanceDetails.Tags; len(tags) != 1 || tags[0].Key != "a\ufffdb" {
		t.Errorf("SNS string with a surrogate escaped in the message: tags %q", tags)
	}
}
