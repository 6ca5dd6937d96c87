package rdsbots

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/finding"
)

// rdsEnv is kumo with one publicly accessible DB instance. kumo serves Describe/ModifyDBInstance
// (PubliclyAccessible included) but not AddTagsToResource, which a stub records.
type rdsEnv struct {
	bottest.Env
	id   string
	tags *[]*rds.AddTagsToResourceInput
}

func newRDSEnv(t *testing.T, stubs ...func(*middleware.Stack) error) rdsEnv {
	t.Helper()
	var tags []*rds.AddTagsToResourceInput
	tagStub := bottest.StubCall("rds:AddTagsToResource", func(in any) (any, error) {
		tags = append(tags, in.(*rds.AddTagsToResourceInput))
		return &rds.AddTagsToResourceOutput{}, nil
	})
	e := bottest.NewEnv(t, "rds_disable_public_access", append(stubs, tagStub)...)
	id := bottest.UniqueName("orders-db")
	if _, err := rds.NewFromConfig(e.Admin()).CreateDBInstance(context.Background(), &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String(id), DBInstanceClass: aws.String("db.t3.micro"), Engine: aws.String("postgres"),
		MasterUsername: aws.String("admin"), MasterUserPassword: aws.String("not-a-real-password"), AllocatedStorage: aws.Int32(20),
		PubliclyAccessible: aws.Bool(true),
	}); err != nil {
		t.Fatal(err)
	}
	return rdsEnv{Env: e, id: id, tags: &tags}
}

func rdsFinding(id string) *finding.Finding {
	return &finding.Finding{
		ID: bottest.FindingID, Type: "CredentialAccess:RDS/AnomalousBehavior.SuccessfulLogin", AccountID: bottest.Account, Region: bottest.Region,
		Partition: "aws", ResourceKind: finding.KindRDSDBInstance, RDS: &finding.RDS{InstanceID: id, Engine: "postgres"},
	}
}

func (e rdsEnv) run(t *testing.T, id string, dryRun bool) (bots.Result, error) {
	t.Helper()
	return bottest.Run(t, "rds_disable_public_access", e.Request(rdsFinding(id), dryRun))
}

func (e rdsEnv) public(t *testing.T) bool {
	t.Helper()
	db, err := describeDBInstance(context.Background(), rds.NewFromConfig(e.Admin()), e.id)
	if err != nil || db == nil {
		t.Fatalf("read back %s: %v", e.id, err)
	}
	return aws.ToBool(db.PubliclyAccessible)
}

var _ = bottest.RegisterContract("rds_disable_public_access", bottest.Contract{
	World: func(t *testing.T, stubs ...func(*middleware.Stack) error) bottest.World {
		e := newRDSEnv(t, stubs...)
		return bottest.World{
			Request: func(dryRun bool) bots.Request { return e.Request(rdsFinding(e.id), dryRun) },
			Rec:     e.Rec,
			State:   func(t *testing.T) string { return fmt.Sprint("public=", e.public(t), " ", len(*e.tags), " tags") },
			Gone:    func(req *bots.Request) { req.Finding.RDS.InstanceID = "gone-db" },
		}
	},
	Again:    bots.StatusAlreadyDone,
	Deny:     "rds:ModifyDBInstance",
	Throttle: "rds:DescribeDBInstances",
})

func TestRDSDisablePublicAccess_MakesTheInstancePrivateImmediatelyAndTagsIt(t *testing.T) {
	var modify *rds.ModifyDBInstanceInput
	e := newRDSEnv(t, bottest.ObserveOp("rds:ModifyDBInstance", func(in any) { modify = in.(*rds.ModifyDBInstanceInput) }))
	res, err := e.run(t, e.id, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusRemediated || res.Before["publiclyAccessible"] != "true" || res.After["publiclyAccessible"] != "false" {
		t.Fatalf("result = %+v", res)
	}
	if e.public(t) {
		t.Error("the instance is still publicly accessible")
	}
	if modify == nil || aws.ToBool(modify.PubliclyAccessible) || !aws.ToBool(modify.ApplyImmediately) || modify.PubliclyAccessible == nil {
		t.Errorf("ModifyDBInstance input %+v, want PubliclyAccessible=false, ApplyImmediately=true", modify)
	}
	if len(*e.tags) != 1 || !strings.HasSuffix(aws.ToString((*e.tags)[0].ResourceName), ":db:"+e.id) {
		t.Errorf("AddTagsToResource inputs %+v", *e.tags)
	}
}
