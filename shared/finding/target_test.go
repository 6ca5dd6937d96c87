package finding

import (
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/guardbots/guardbots/shared/faults"
)

func targetFinding(kind ResourceKind) *Finding {
	return &Finding{ID: "f1", AccountID: "111122223333", Region: "eu-west-1", Partition: "aws", ResourceKind: kind}
}

func TestTargets_EachResourceKindNamesItsTargetsValidatedWithTheirARN(t *testing.T) {
	where := func(k TargetKind, id, arn string) Target {
		return Target{Kind: k, ID: id, ARN: arn, Account: "111122223333", Region: "eu-west-1", Partition: "aws"}
	}
	for name, c := range map[string]struct {
		set  func(f *Finding)
		kind ResourceKind
		want []Target
	}{
		"instance": {func(f *Finding) { f.Instance = &Instance{ID: "i-0123456789abcdef0"} }, KindInstance,
			[]Target{where(TargetInstance, "i-0123456789abcdef0", "arn:aws:ec2:eu-west-1:111122223333:instance/i-0123456789abcdef0")}},
		"IAM user": {func(f *Finding) {
			f.AccessKey = &AccessKey{UserType: UserTypeIAMUser, UserName: "alice", AccessKeyID: "AKIAEXAMPLE0000000AA"}
		}, KindAccessKey,
			[]Target{where(TargetIAMUser, "alice", "")}},
		"role session": {func(f *Finding) {
			f.AccessKey = &AccessKey{UserType: UserTypeAssumedRole, UserName: "ops", PrincipalID: "AROAEXAMPLE:s", AccessKeyID: "ASIAEXAMPLE0000000AA"}
		}, KindAccessKey, []Target{where(TargetIAMRole, "ops", ""), where(TargetSession, "AROAEXAMPLE:s", "")}},
		// GuardDuty's Role user type names the role; a principal id without a session names no session.
		"role": {func(f *Finding) {
			f.AccessKey = &AccessKey{UserType: UserTypeRole, UserName: "ops", PrincipalID: "AROAEXAMPLE", AccessKeyID: "ASIAEXAMPLE0000000AA"}
		}, KindAccessKey, []Target{where(TargetIAMRole, "ops", "")}},
		// An IAM user's GetSessionToken credentials (ASIA) are a session of the user (aws:userId is its id).
		"IAM user session": {func(f *Finding) {
			f.AccessKey = &AccessKey{UserType: UserTypeIAMUser, UserName: "alice", PrincipalID: "AIDAEXAMPLEEXAMPLE0", AccessKeyID: "ASIAEXAMPLE0000000AA"}
		}, KindAccessKey, []Target{where(TargetIAMUser, "alice", ""), where(TargetSession, "AIDAEXAMPLEEXAMPLE0", "")}},
		// Something named like a role whose principal is not a role's is not acted on as the role.
		"not a role session": {func(f *Finding) {
			f.AccessKey = &AccessKey{UserType: UserTypeAssumedRole, UserName: "ops", PrincipalID: "AIDAEXAMPLE:s", AccessKeyID: "ASIAEXAMPLE0000000AA"}
		}, KindAccessKey, []Target{where(TargetAccessKey, "ASIAEXAMPLE0000000AA", "")}},
		"root": {func(f *Finding) {
			f.AccessKey = &AccessKey{UserType: UserTypeRoot, AccessKeyID: "AKIAROOT000000000000"}
		}, KindAccessKey,
			[]Target{where(TargetRoot, "AKIAROOT000000000000", "")}},
		"buckets, once each": {func(f *Finding) { f.Buckets = []Bucket{{Name: "logs"}, {Name: "data"}, {Name: "logs"}} }, KindS3Bucket,
			[]Target{where(TargetBucket, "logs", "arn:aws:s3:::logs"), where(TargetBucket, "data", "arn:aws:s3:::data")}},
		"function by name": {func(f *Finding) {
			f.Lambda = &Lambda{FunctionName: "pay", FunctionArn: "arn:aws:lambda:eu-west-1:111122223333:function:pay:prod"}
		}, KindLambdaFunction, []Target{where(TargetLambdaFunction, "pay", "arn:aws:lambda:eu-west-1:111122223333:function:pay")}},
		"DB instance": {func(f *Finding) { f.RDS = &RDS{InstanceID: "orders", ClusterID: "c"} }, KindRDSDBInstance,
			[]Target{where(TargetRDSDB, "orders", "arn:aws:rds:eu-west-1:111122223333:db:orders")}},
		"DB cluster": {func(f *Finding) { f.RDS = &RDS{ClusterID: "orders-cluster"} }, KindRDSDBInstance,
			[]Target{where(TargetRDSCluster, "orders-cluster", "arn:aws:rds:eu-west-1:111122223333:cluster:orders-cluster")}},
		"EKS names no target": {func(f *Finding) { f.EKS = &EKS{ClusterName: "c"} }, KindEKSCluster, nil},
	} {
		f := targetFinding(c.kind)
		c.set(f)
		got, err := Targets(f)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v, %v\nwant %+v", name, got, err, c.want)
		}
	}
}

func TestTargets_MalformedIdentifiersAreRejectedBeforeAnyAPICall(t *testing.T) {
	for name, set := range map[string]func(f *Finding){
		"instance id": func(f *Finding) { f.ResourceKind, f.Instance = KindInstance, &Instance{ID: "i-99999999; rm -rf"} },
		"user name": func(f *Finding) {
			f.ResourceKind, f.AccessKey = KindAccessKey, &AccessKey{UserType: UserTypeIAMUser, UserName: "a b"}
		},
		"session name": func(f *Finding) {
			f.ResourceKind, f.AccessKey = KindAccessKey, &AccessKey{UserType: UserTypeAssumedRole, UserName: "ops", PrincipalID: "AROAEXAMPLE:i-1 *"}
		},
		"bucket":        func(f *Finding) { f.ResourceKind, f.Buckets = KindS3Bucket, []Bucket{{Name: "Bad/Name"}} },
		"function":      func(f *Finding) { f.ResourceKind, f.Lambda = KindLambdaFunction, &Lambda{FunctionName: "a b"} },
		"DB identifier": func(f *Finding) { f.ResourceKind, f.RDS = KindRDSDBInstance, &RDS{InstanceID: "1-db"} },
		"account": func(f *Finding) {
			f.ResourceKind, f.AccountID, f.Buckets = KindS3Bucket, "12345", []Bucket{{Name: "logs"}}
		},
		"region": func(f *Finding) {
			f.ResourceKind, f.Region, f.Buckets = KindS3Bucket, "eu-west-1/../x", []Bucket{{Name: "logs"}}
		},
		"partition": func(f *Finding) {
			f.ResourceKind, f.Partition, f.Buckets = KindS3Bucket, "aws:x", []Bucket{{Name: "logs"}}
		},
		"function ARN": func(f *Finding) {
			f.ResourceKind, f.Lambda = KindLambdaFunction, &Lambda{FunctionArn: "arn:aws:s3:::x"}
		},
		"ARN of another": func(f *Finding) {
			f.ResourceKind, f.Lambda = KindLambdaFunction, &Lambda{FunctionName: "pay", FunctionArn: "arn:aws:lambda:eu-west-1:111122223333:function:other"}
		},
		"ARN elsewhere": func(f *Finding) {
			f.ResourceKind, f.Lambda = KindLambdaFunction, &Lambda{FunctionName: "pay", FunctionArn: "arn:aws:lambda:eu-west-1:444455556666:function:pay"}
		},
		"ARN other place": func(f *Finding) {
			f.ResourceKind, f.Lambda = KindLambdaFunction, &Lambda{FunctionName: "pay", FunctionArn: "arn:aws:lambda:us-east-1:111122223333:function:pay"}
		},
	} {
		f := targetFinding("")
		set(f)
		if ts, err := Targets(f); faults.Classify(err) != faults.Rejected {
			t.Errorf("%s: %+v, %v; want a rejection", name, ts, err)
		}
	}
}

func TestRelations_InstanceProfileIsTakenFromTheFindingInTheInstancesAccount(t *testing.T) {
	spec, ok := RelationOf(RelInstanceProfileRole)
	if !ok || spec.From != TargetInstance || spec.To != TargetIAMRole || spec.Lookup != "iam:GetInstanceProfile" {
		t.Fatalf("relation %+v", spec)
	}
	f := targetFinding(KindInstance)
	f.Instance = &Instance{ID: "i-0123456789abcdef0", InstanceProfileArn: "arn:aws:iam::111122223333:instance-profile/team/web"}
	from, _ := Targets(f)
	via, skip, err := spec.Via(f, from[0])
	if err != nil || skip != "" || via.Kind != TargetInstanceProfile || via.ID != "web" || via.Via != "instance i-0123456789abcdef0" {
		t.Errorf("via %+v, %q, %v", via, skip, err)
	}
	f.Instance.InstanceProfileArn = ""
	if _, skip, err := spec.Via(f, from[0]); err != nil || !strings.Contains(skip, "has no instance profile") {
		t.Errorf("no profile: %q, %v", skip, err)
	}
	f.Instance.InstanceProfileArn = "arn:aws:iam::444455556666:instance-profile/break-glass"
	if _, _, err := spec.Via(f, from[0]); faults.Classify(err) != faults.Rejected {
		t.Errorf("a profile in another account: %v, want a rejection", err)
	}
}

func TestReadActions_EveryTagReadAndLookupHasItsIAMAction(t *testing.T) {
	got := ReadActions()
	for _, op := range []string{"ec2:DescribeTags", "iam:ListUserTags", "iam:ListRoleTags", "s3:GetBucketTagging", "lambda:ListTags", "rds:ListTagsForResource", "iam:GetInstanceProfile"} {
		if len(got[op]) != 1 || got[op][0] != op {
			t.Errorf("%s → %v", op, got[op])
		}
	}
	if Spec(TargetRoot).TagRead != "" || Spec(TargetRoot).Refused == "" || Spec(TargetBucket).Marked {
		t.Errorf("root %+v, bucket %+v", Spec(TargetRoot), Spec(TargetBucket))
	}
}

func TestTarget_WhereNamesKindAccountAndRegion(t *testing.T) {
	tg := Target{Kind: TargetRDSDB, ID: "orders", Account: "111122223333", Region: "eu-west-1"}
	if tg.Where() != "DB instance orders in 111122223333/eu-west-1" || tg.String() != "rds-db orders" {
		t.Errorf("%q %q", tg.Where(), tg.String())
	}
}

func TestTargets_S3ObjectIsTheVersionAndItsBucketCarriesTheExemption(t *testing.T) {
	f := targetFinding(KindS3Object)
	f.S3Objects = []S3Object{{Bucket: "uploads", Key: "in/a b.zip", VersionID: "3HL4kqtJlcpXroDT.rmSpX", Arn: "arn:aws:s3:::uploads/in/a b.zip"}}
	ts, err := Targets(f)
	if err != nil {
		t.Fatal(err)
	}
	want := []Target{
		{Kind: TargetS3Object, ID: "uploads/in/a b.zip", ARN: "arn:aws:s3:::uploads/in/a b.zip", Account: "111122223333", Region: "eu-west-1", Partition: "aws", Version: "3HL4kqtJlcpXroDT.rmSpX"},
		{Kind: TargetBucket, ID: "uploads", ARN: "arn:aws:s3:::uploads", Account: "111122223333", Region: "eu-west-1", Partition: "aws"},
	}
	if !reflect.DeepEqual(ts, want) {
		t.Errorf("targets\n got %+v\nwant %+v", ts, want)
	}
	if b, k := ts[0].Object(); b != "uploads" || k != "in/a b.zip" {
		t.Errorf("Object() = %q, %q", b, k)
	}
	if Spec(TargetS3Object).TagRead != "" {
		t.Error("an object's own tags must not exempt it: its uploader writes them")
	}
}

func TestTargets_S3ObjectWithAForgedKeyVersionOrARNIsRejected(t *testing.T) {
	for name, o := range map[string]S3Object{
		"ARN of another bucket": {Bucket: "uploads", Key: "a.zip", Arn: "arn:aws:s3:::attacker/a.zip"},
		"version with a space":  {Bucket: "uploads", Key: "a.zip", VersionID: "v 1"},
		"key over 1024 bytes":   {Bucket: "uploads", Key: strings.Repeat("k", 1025)},
		"key not UTF-8":         {Bucket: "uploads", Key: "a\xff.zip"},
		"key with a newline":    {Bucket: "uploads", Key: "a\n.zip"},
		"bucket not a bucket":   {Bucket: "Uploads_", Key: "a.zip"},
	} {
		f := targetFinding(KindS3Object)
		f.S3Objects = []S3Object{o}
		if _, err := Targets(f); faults.Classify(err) != faults.Rejected {
			t.Errorf("%s: err = %v, want a rejection", name, err)
		}
	}
}

// Each kind's Pattern accepts exactly what its identifier's counted regular expression accepts (the
// form AWS documents, which regexp compiles too slowly for a cold start), at and around every bound.
func TestPattern_AcceptsWhatTheCountedExpressionAccepts(t *testing.T) {
	counted := map[TargetKind]string{
		TargetInstance:        `^i-[0-9a-f-]{8,32}$`,
		TargetIAMUser:         `^[\w+=,.@-]{1,64}$`,
		TargetIAMRole:         `^[\w+=,.@-]{1,64}$`,
		TargetInstanceProfile: `^[\w+=,.@-]{1,64}$`,
		TargetAccessKey:       `^[\w+=,.@:/-]{1,256}$`,
		TargetRoot:            `^[\w+=,.@:/-]{1,256}$`,
		TargetBucket:          `^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`,
		TargetLambdaFunction:  `^[a-zA-Z0-9_-]{1,64}$`,
		TargetRDSDB:           `^[a-zA-Z][a-zA-Z0-9-]{0,62}$`,
		TargetRDSCluster:      `^[a-zA-Z][a-zA-Z0-9-]{0,62}$`,
		TargetSession:         `^(AROA[A-Z0-9-]{4,128}:[\w+=,.@-]{1,64}|AIDA[A-Z0-9-]{4,128})$`,
		TargetS3Object:        `^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/[^\x00-\x1f\x7f]+$`,
		TargetTrail:           `^(arn:aws[a-z-]*:cloudtrail:[a-z]{2}(-[a-z]+)+-\d{1,2}:\d{12}:trail/)?[A-Za-z0-9][A-Za-z0-9._-]{2,127}$`,
	}
	if len(counted) != len(targetSpecs) {
		t.Fatalf("%d expressions for %d kinds", len(counted), len(targetSpecs))
	}
	var inputs []string
	for _, c := range []string{"a", "0", "f", "A", "-", ".", "_", "@", ":", "/", "é", " ", "\n"} {
		for _, n := range []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 31, 32, 33, 34, 35, 61, 62, 63, 64, 65, 127, 128, 129, 255, 256, 257} {
			s := strings.Repeat(c, n)
			inputs = append(inputs, s, "i-"+s, "a"+s, s+"a", "a"+s+"-", "1"+s+"1",
				"AROA"+s, "AIDA"+s, "AROAABCD:"+s, "AROA"+s+":x", "AROA"+s+":"+s,
				s+"/k", "ab"+s+"/"+s, "a"+s+"b/k/"+s,
				"arn:aws:cloudtrail:eu-west-1:111122223333:trail/"+s,
				"arn:aws-us-gov:cloudtrail:"+s+"-west-1:111122223333:trail/audit",
				"arn:aws:cloudtrail:eu-west-"+s+":111122223333:trail/audit",
				"arn:aws:cloudtrail:eu-"+s+"-1:111122223333:trail/audit",
				"arn:aws:cloudtrail:eu-west-1:"+s+":trail/audit")
		}
	}
	for kind, expr := range counted {
		re := regexp.MustCompile(expr)
		for _, in := range inputs {
			if got, want := targetSpecs[kind].Valid.MatchString(in), re.MatchString(in); got != want {
				t.Errorf("%s: %q (%d bytes): pattern says %t, %s says %t", kind, in, len(in), got, expr, want)
			}
		}
	}
}
