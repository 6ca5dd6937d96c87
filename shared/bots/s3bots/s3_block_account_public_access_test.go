package s3bots

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	s3ctypes "github.com/aws/aws-sdk-go-v2/service/s3control/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/faults"
)

// accountBlockFake stands in for S3 Control's account-level public access block. kumo serves the
// routes but is not usable from the SDK: a Get for an account without a block answers 404 with a bare
// <Error> body the SDK cannot parse (UnknownError), and a Put answers 200 without storing the settings.
type accountBlockFake struct {
	blocks map[string]*s3ctypes.PublicAccessBlockConfiguration
	puts   []*s3control.PutPublicAccessBlockInput
}

func (a *accountBlockFake) options() []func(*middleware.Stack) error {
	return []func(*middleware.Stack) error{
		bottest.StubCall("s3control:GetPublicAccessBlock", func(in any) (any, error) {
			c, ok := a.blocks[aws.ToString(in.(*s3control.GetPublicAccessBlockInput).AccountId)]
			if !ok {
				return nil, &smithy.GenericAPIError{Code: "NoSuchPublicAccessBlockConfiguration", Message: "The public access block configuration was not found", Fault: smithy.FaultClient}
			}
			return &s3control.GetPublicAccessBlockOutput{PublicAccessBlockConfiguration: c}, nil
		}),
		bottest.StubCall("s3control:PutPublicAccessBlock", func(in any) (any, error) {
			p := in.(*s3control.PutPublicAccessBlockInput)
			a.puts = append(a.puts, p)
			a.blocks[aws.ToString(p.AccountId)] = p.PublicAccessBlockConfiguration
			return &s3control.PutPublicAccessBlockOutput{}, nil
		}),
	}
}

type accountBlockEnv struct {
	cfg  aws.Config
	rec  *bottest.Recorder
	fake *accountBlockFake
}

func newAccountBlockEnv(t *testing.T, stubs ...func(*middleware.Stack) error) accountBlockEnv {
	t.Helper()
	rec := bottest.NewRecorder("s3_block_account_public_access")
	fake := &accountBlockFake{blocks: map[string]*s3ctypes.PublicAccessBlockConfiguration{}}
	return accountBlockEnv{
		cfg:  bottest.Config("", append(append([]func(*middleware.Stack) error{rec.Option}, stubs...), fake.options()...)...),
		rec:  rec,
		fake: fake,
	}
}

// seed gives the account a block with every setting off.
func (e accountBlockEnv) seed(t *testing.T, account string) {
	t.Helper()
	e.fake.blocks[account] = &s3ctypes.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(false)}
}

func (e accountBlockEnv) run(t *testing.T, account string, dryRun bool) (bots.Result, error) {
	t.Helper()
	f := bucketFinding("open-data")
	f.AccountID = account
	return bottest.Run(t, "s3_block_account_public_access", bots.Request{Finding: f, DryRun: dryRun, AWS: e.cfg, Params: bots.Params{}})
}

// block reads the account's block back; "" when there is none.
func (e accountBlockEnv) block(t *testing.T, account string) string {
	t.Helper()
	c, ok := e.fake.blocks[account]
	if !ok {
		return ""
	}
	return strings.Join([]string{
		"acls=" + boolWord(c.BlockPublicAcls), "ignore=" + boolWord(c.IgnorePublicAcls),
		"policy=" + boolWord(c.BlockPublicPolicy), "restrict=" + boolWord(c.RestrictPublicBuckets),
	}, " ")
}

func boolWord(b *bool) string {
	if aws.ToBool(b) {
		return "true"
	}
	return "false"
}

var _ = bottest.RegisterContract("s3_block_account_public_access", bottest.Contract{
	World: func(t *testing.T, stubs ...func(*middleware.Stack) error) bottest.World {
		e := newAccountBlockEnv(t, stubs...)
		e.seed(t, bottest.Account)
		return bottest.World{
			Request: func(dryRun bool) bots.Request {
				return bots.Request{Finding: bucketFinding("open-data"), DryRun: dryRun, AWS: e.cfg, Params: bots.Params{}}
			},
			Rec:   e.rec,
			State: func(t *testing.T) string { return e.block(t, bottest.Account) },
		}
	},
	Again:    bots.StatusAlreadyDone,
	Deny:     "s3control:PutPublicAccessBlock",
	Throttle: "s3control:GetPublicAccessBlock",
	NoGone:   "an account cannot be missing",
})

func TestS3BlockAccountPublicAccess_BlocksTheFindingsAccount(t *testing.T) {
	e := newAccountBlockEnv(t)
	e.seed(t, "444455556666")
	e.seed(t, bottest.Account)
	res, err := e.run(t, "444455556666", false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusRemediated || !strings.Contains(res.Before["publicAccessBlock"], "BlockPublicAcls=false") {
		t.Fatalf("result = %+v", res)
	}
	if got := e.block(t, "444455556666"); got != "acls=true ignore=true policy=true restrict=true" {
		t.Errorf("account block reads back %q", got)
	}
	if got := e.block(t, bottest.Account); got != "acls=false ignore=false policy=false restrict=false" {
		t.Errorf("another account was changed: %q", got)
	}
}

func TestS3BlockAccountPublicAccess_MalformedAccountIsRejected(t *testing.T) {
	e := newAccountBlockEnv(t)
	if _, err := e.run(t, "12345", false); faults.Classify(err) != faults.Rejected {
		t.Errorf("err = %v", err)
	}
}

func TestS3BlockAccountPublicAccess_AccountWithoutABlockIsBlocked(t *testing.T) {
	e := newAccountBlockEnv(t)
	res, err := e.run(t, "444455556671", false)
	if err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("result = %+v, %v", res, err)
	}
	put := e.fake.puts[0]
	c := put.PublicAccessBlockConfiguration
	if aws.ToString(put.AccountId) != "444455556671" || !aws.ToBool(c.BlockPublicAcls) || !aws.ToBool(c.IgnorePublicAcls) || !aws.ToBool(c.BlockPublicPolicy) || !aws.ToBool(c.RestrictPublicBuckets) {
		t.Errorf("PutPublicAccessBlock(%s, %+v), want all four on for the finding's account", aws.ToString(put.AccountId), c)
	}
}
