package notify

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/guardbots/guardbots/shared/org"
)

func paymentsAccount() *org.Summary {
	return &org.Summary{ID: "111122223333", Name: "payments-prod", OUPath: []string{"r-ab12", "ou-ab12-workload1", "ou-ab12-prod0000"},
		Owner: "team-payments", OwnerTag: "owner"}
}

func TestRouting_EveryNotificationCarriesAccountOwnerKindTypeSeverityAndTheOUPathAsAnArray(t *testing.T) {
	in := remediated()
	in.Decision.Account = paymentsAccount()
	m, b := build(t, in)
	got := m.Routing.Attributes()
	want := map[string]Attribute{
		AttrOutcome: {"String", OutcomeRemediated}, AttrSeverity: {"String", "HIGH"}, AttrAccount: {"String", "111122223333"},
		AttrOwner: {"String", "team-payments"}, AttrKind: {"String", "Instance"},
		AttrType: {"String", "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom"},
		AttrOU:   {"String.Array", `["r-ab12","ou-ab12-workload1","ou-ab12-prod0000"]`},
	}
	if len(got) != len(want) {
		t.Errorf("attributes = %v, want %v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("attribute %s = %+v, want %+v", k, got[k], w)
		}
	}
	if b.Account == nil || b.Account.Name != "payments-prod" || b.Account.Owner != "team-payments" || len(b.Account.OUPath) != 3 {
		t.Errorf("body account = %+v, want name, owner and OU path", b.Account)
	}
	if !strings.Contains(b.Summary, "payments-prod, owner team-payments, OU r-ab12/ou-ab12-workload1/ou-ab12-prod0000") {
		t.Errorf("summary = %q, want the account name, owner and OU path", b.Summary)
	}

	// Through the publisher: the same attributes reach SNS, the OU path as a String.Array.
	f := &fakeSNS{}
	if _, err := (Publisher{Client: f, TopicArn: "arn:aws:sns:us-east-1:999988887777:t"}).Publish(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	for k, w := range want {
		v := f.in.MessageAttributes[k]
		if aws.ToString(v.DataType) != w.DataType || aws.ToString(v.StringValue) != w.Value {
			t.Errorf("published %s = %s %s, want %+v", k, aws.ToString(v.DataType), aws.ToString(v.StringValue), w)
		}
	}
}

// A decision's account that is not the finding's (an input someone wrote) must not route the message
// to another team: owner and OU are left out, the finding's own account id stays.
func TestRouting_AnAccountThatIsNotTheFindingsRoutesNowhereElse(t *testing.T) {
	in := remediated()
	in.Decision.Account = paymentsAccount()
	in.Decision.Account.ID = "444455556666"
	m, b := build(t, in)
	attrs := m.Routing.Attributes()
	if _, ok := attrs[AttrOwner]; ok {
		t.Errorf("owner attribute sent for another account's lookup: %v", attrs)
	}
	if _, ok := attrs[AttrOU]; ok {
		t.Errorf("ou attribute sent for another account's lookup: %v", attrs)
	}
	if attrs[AttrAccount].Value != "111122223333" {
		t.Errorf("account = %+v", attrs[AttrAccount])
	}
	if b.Account == nil || b.Account.ID != "111122223333" || b.Account.Unavailable == "" {
		t.Errorf("body account = %+v, want the finding's account with why the rest is missing", b.Account)
	}
}

// Without a lookup (off, or failed) the message still goes out, to the routes that do not filter on
// owner or OU; nothing is sent empty (SNS refuses empty values).
func TestRouting_UnknownOwnerAndOUAreLeftOutNotSentEmpty(t *testing.T) {
	in := remediated()
	in.Decision.Account = &org.Summary{ID: "111122223333", Unavailable: "organization lookup of account 111122223333: organizations:ListParents: throttled"}
	m, b := build(t, in)
	for _, k := range []string{AttrOwner, AttrOU} {
		if _, ok := m.Routing.Attributes()[k]; ok {
			t.Errorf("%s sent without a lookup", k)
		}
	}
	if b.Account == nil || !strings.Contains(b.Account.Unavailable, "throttled") {
		t.Errorf("body account = %+v, want the lookup failure said", b.Account)
	}
}

// Tag values are the organization administrators' words: what SNS could not carry or a policy could
// not match is removed, and OU ids that Organizations would not issue are dropped.
func TestRouting_AttributeValuesAreCleaned(t *testing.T) {
	r := Routing{Owner: "team\"pay\\ments\n", OU: []string{"r-ab12", `ou-x","evil`, "ou-ab12-prod0000"}, Type: strings.Repeat("x", 300)}
	a := r.Attributes()
	if a[AttrOwner].Value != "teampayments" {
		t.Errorf("owner = %q", a[AttrOwner].Value)
	}
	var ou []string
	if err := json.Unmarshal([]byte(a[AttrOU].Value), &ou); err != nil || len(ou) != 2 {
		t.Errorf("ou = %s (%v), want the two real ids", a[AttrOU].Value, err)
	}
	if len(a[AttrType].Value) != 256 {
		t.Errorf("type is %d characters, want at most 256", len(a[AttrType].Value))
	}
	// A tag that reads "team-payments" but is not: a right-to-left override, a zero-width space and a
	// private-use character are dropped, so the attribute is what a person reads.
	r = Routing{Owner: "team\u200b-pay\u202ements\ue000"}
	if got := r.Attributes()[AttrOwner].Value; got != "team-payments" {
		t.Errorf("owner with invisible characters = %q, want team-payments", got)
	}
}

func TestApprovalRequest_CarriesTheFindingsRouting(t *testing.T) {
	f := instanceFinding()
	r := routingOfFinding(f, OutcomeApprovalRequested)
	a := r.Attributes()
	if a[AttrOutcome].Value != OutcomeApprovalRequested || a[AttrAccount].Value != f.AccountID || a[AttrKind].Value != "Instance" {
		t.Errorf("approval routing = %v", a)
	}
}
