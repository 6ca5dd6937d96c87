package guardduty

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/guardbots/guardbots/shared/faults"
)

// GuardDuty's product in Security Hub; the ARN's region varies, its path does not.
const guardDutyProductSuffix = "/product/aws/guardduty"

// fromSecurityHub maps the one GuardDuty finding of a Security Hub event (ASFF) back to the GuardDuty
// finding, so a finding seen through both routes has the same id, type and account.
//
// Rules, preferring a field GuardDuty sets explicitly over reconstruction:
//   - id and arn: the GuardDuty finding ARN in Id (else in ProductFields "aws/securityhub/FindingId");
//     the id is its last path element, the partition, region, account and detector come from it too.
//   - type: the last path element of the first Types (or FindingProviderFields.Types) entry that reads
//     as a GuardDuty type once ASFF's "-" after the resource part is turned back into "/"
//     ("TTPs/Discovery/Recon:IAMUser-ResourcePermissions" → "Recon:IAMUser/ResourcePermissions").
//   - severity: FindingProviderFields.Severity.Original (GuardDuty's own score) if it is a number,
//     else Severity.Product (the same score, deprecated member), else Severity.Normalized / 10.
//   - accountId: AwsAccountId; region: Region, else the ARN's.
//   - archived: ProductFields archived = "true", or RecordState / WorkflowState ARCHIVED.
//   - action: the ASFF Action object, else the flattened ProductFields "action/…" keys (older events).
//   - resources: AwsEc2Instance, AwsIamAccessKey, AwsS3Bucket, AwsEksCluster, AwsRdsDbInstance,
//     AwsLambdaFunction, AwsEcsCluster, AwsEcsTask and Container become the GuardDuty blocks.
func fromSecurityHub(detail value, path string) (*Finding, error) {
	list := detail.get("findings")
	all, ok := list.array()
	if !ok {
		return nil, faults.Rejectf("%sfindings is %s; expected the array of ASFF findings of a Security Hub event", path, quote(list))
	}
	var gd value
	var gdCount, gdIdx int
	var products []string
	i := -1
	for it := all.iter(); it.next(); {
		f := it.v
		i++
		if f.typ() != typeObject {
			return nil, faults.Rejectf("%sfindings[%d] is a JSON %s, not an ASFF finding", path, i, f.typ())
		}
		if isGuardDutyASFF(f) {
			if gdCount == 0 {
				gd = f
			}
			gdCount++
			gdIdx = i
		} else if p := productName(f); !slices.Contains(products, p) {
			products = append(products, p)
		}
	}
	switch {
	case all.len() == 0:
		return nil, faults.Rejectf("%sfindings is empty: the Security Hub event holds no finding", path)
	case gdCount == 0:
		return nil, faults.Rejectf("%sfindings holds no GuardDuty finding: its %d finding(s) come from %s (only a ProductArn arn:<partition>:securityhub:<region>::product/aws/guardduty is GuardDuty's)",
			path, all.len(), strings.Join(products, ", "))
	case gdCount > 1:
		return nil, faults.Rejectf("%sfindings holds %d GuardDuty findings; expected exactly one (the workflow handles one finding per execution)", path, gdCount)
	}
	return asffFinding(gd, fmt.Sprintf("%sfindings[%d].", path, gdIdx))
}

// isGuardDutyASFF: only GuardDuty's own product ARN, arn:<partition>:securityhub:<region>::product/aws/guardduty,
// says a finding is GuardDuty's. A custom integration chooses its ProductName freely ("GuardDuty"
// included), but it imports under its own product ARN.
func isGuardDutyASFF(f value) bool {
	return IsGuardDutyProductArn(string(f.getStr("ProductArn")))
}

// IsGuardDutyProductArn reports whether s is GuardDuty's product ARN in Security Hub, in some partition
// and region.
func IsGuardDutyProductArn(s string) bool {
	rest, ok := strings.CutPrefix(s, "arn:")
	if !ok {
		return false
	}
	partition, rest, ok := strings.Cut(rest, ":securityhub:")
	if !ok || !isPartition(partition) {
		return false
	}
	region, rest, ok := strings.Cut(rest, ":")
	return ok && IsRegion(region) && rest == ":product/aws/guardduty"
}

// productName names a finding's product for a message: its name and, since the name proves nothing, its
// product ARN.
func productName(f value) string {
	name := "an unnamed product"
	if n := f.getStr("ProductName"); len(n) > 0 {
		name = clip(string(n), 64)
	} else if n := f.getStr("ProductFields", "aws/securityhub/ProductName"); len(n) > 0 {
		name = clip(string(n), 64)
	}
	if a := f.getStr("ProductArn"); len(a) > 0 {
		return fmt.Sprintf("%s (ProductArn %s)", name, clip(string(a), 128))
	}
	return name + " (no ProductArn)"
}

// findingARN is arn:<partition>:guardduty:<region>:<account>:detector/<detector>/finding/<id>.
type findingARN struct{ arn, partition, region, account, detector, id string }

func parseFindingARN(s string) (findingARN, bool) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "guardduty" {
		return findingARN{}, false
	}
	res := strings.Split(parts[5], "/")
	if len(res) != 4 || res[0] != "detector" || res[2] != "finding" || res[3] == "" {
		return findingARN{}, false
	}
	return findingARN{arn: s, partition: parts[1], region: parts[3], account: parts[4], detector: res[1], id: res[3]}, true
}

// typeFromASFF turns an ASFF type ("TTPs/Discovery/Recon:IAMUser-ResourcePermissions") back into a
// GuardDuty type; resource parts never contain "-", so the first "-" after ":" is the lost "/".
func typeFromASFF(s string) string {
	last := s[strings.LastIndexByte(s, '/')+1:]
	purpose, rest, ok := strings.Cut(last, ":")
	if !ok {
		return ""
	}
	resource, family, ok := strings.Cut(rest, "-")
	if !ok {
		return ""
	}
	t := purpose + ":" + resource + "/" + family
	if !IsFindingType(t) {
		return ""
	}
	return t
}

func asffFinding(a value, path string) (*Finding, error) {
	d := decoder{path: path}
	pf := a.get("ProductFields")
	// pfGet reads a ProductFields value: current GuardDuty writes "aws/guardduty/service/<name>",
	// events from 2019 the bare "<name>".
	pfGet := func(name string) string {
		if !pf.exists() {
			return ""
		}
		for _, k := range [2]string{"aws/guardduty/service/" + name, name} {
			if b := pf.getStr(k); len(b) > 0 {
				if len(b) > maxText {
					d.failf("%sProductFields[%q] is %d bytes long, over the %d-byte limit", path, k, len(b), maxText)
					return ""
				}
				return string(b)
			}
		}
		return ""
	}

	arn, ok := parseFindingARN(d.str(a, "Id", maxARN))
	if !ok {
		fid := pfGet("aws/securityhub/FindingId")
		if _, after, found := strings.Cut(fid, guardDutyProductSuffix+"/"); found {
			arn, ok = parseFindingARN(after)
		}
	}
	if !ok {
		return nil, faults.Rejectf("%sId %s is not a GuardDuty finding ARN (arn:aws:guardduty:<region>:<account>:detector/<id>/finding/<id>)", path, quote(a.get("Id")))
	}

	var typ string
	for _, key := range [][]string{{"Types"}, {"FindingProviderFields", "Types"}} {
		types, _ := a.path(key...).array()
		for it := types.iter(); it.next(); {
			t := it.v
			if b, _ := t.str(); len(b) <= maxText {
				if typ = typeFromASFF(string(b)); typ != "" {
					break
				}
			}
		}
		if typ != "" {
			break
		}
	}
	if typ == "" {
		return nil, faults.Rejectf("%sTypes holds no GuardDuty finding type (e.g. \"TTPs/Discovery/Recon:IAMUser-ResourcePermissions\")", path)
	}

	f := &Finding{
		SchemaVersion: d.str(a, "SchemaVersion", maxID),
		AccountID:     d.str(a, "AwsAccountId", maxID),
		Region:        d.str(a, "Region", maxID),
		Partition:     arn.partition,
		ID:            arn.id,
		Arn:           arn.arn,
		Type:          typ,
		Title:         d.str(a, "Title", maxText),
		Description:   d.str(a, "Description", maxText),
		Severity:      asffSeverity(a),
		CreatedAt:     d.str(a, "CreatedAt", maxID),
		UpdatedAt:     d.str(a, "UpdatedAt", maxID),
	}
	if f.AccountID == "" {
		return nil, faults.Rejectf("%sAwsAccountId is missing", path)
	}
	if !IsAccountID(f.AccountID) {
		return nil, faults.Rejectf("%sAwsAccountId %q is not a 12-digit AWS account id", path, clip(f.AccountID, 64))
	}
	if f.Region == "" {
		f.Region = arn.region
	}
	count, _ := strconv.ParseInt(pfGet("count"), 10, 64)
	detector := pfGet("detectorId")
	if detector == "" {
		detector = arn.detector
	}
	f.Service = Service{
		Archived:       pfGet("archived") == "true" || string(a.getStr("RecordState")) == "ARCHIVED" || string(a.getStr("WorkflowState")) == "ARCHIVED",
		Count:          count,
		DetectorID:     detector,
		EventFirstSeen: d.str(a, "FirstObservedAt", maxID),
		EventLastSeen:  d.str(a, "LastObservedAt", maxID),
		ResourceRole:   pfGet("resourceRole"),
		AdditionalInfo: &AdditionalInfo{Sample: asffSample(&d, pfGet)},
	}
	if act := a.get("Action"); act.typ() == typeObject {
		d.pascal = true
		d.in("Action", func() { f.Service.Action = d.action(act) })
		d.pascal = false
	} else {
		f.Service.Action = productFieldsAction(pfGet)
	}
	f.Resource = d.asffResources(a)
	if d.err != nil {
		return nil, d.err
	}
	if err := Validate(f, path+"(as GuardDuty) "); err != nil {
		return nil, err
	}
	return f, nil
}

func asffSeverity(a value) float64 {
	if b := a.getStr("FindingProviderFields", "Severity", "Original"); len(b) > 0 {
		if n, err := strconv.ParseFloat(string(b), 64); err == nil {
			return n
		}
	}
	if p := a.path("Severity", "Product"); p.typ() == typeNumber {
		n, _ := p.float()
		return n
	}
	if n := a.path("Severity", "Normalized"); n.typ() == typeNumber {
		f, _ := n.float()
		return f / 10
	}
	return 0
}

func asffSample(d *decoder, pfGet func(string) string) bool {
	if s := pfGet("additionalInfo/sample"); s != "" {
		return s == "true"
	}
	if s := pfGet("sample"); s != "" {
		return s == "true"
	}
	info := pfGet("additionalInfo")
	if !strings.Contains(info, "sample") {
		return false
	}
	sample, repeated := sampleIn([]byte(info))
	if repeated {
		d.failf("%sProductFields additionalInfo holds a JSON object with the member \"sample\" more than once", d.path)
	}
	return sample
}

// productFieldsAction rebuilds the action from 2019-style flattened ProductFields.
func productFieldsAction(pfGet func(string) string) *Action {
	typ := pfGet("action/actionType")
	if typ == "" {
		return nil
	}
	remote := func(prefix string) *RemoteIPDetails {
		v4, v6 := pfGet(prefix+"/remoteIpDetails/ipAddressV4"), pfGet(prefix+"/remoteIpDetails/ipAddressV6")
		if !validIP(v4) && !validIP(v6) {
			return nil
		}
		r := &RemoteIPDetails{}
		if validIP(v4) {
			r.IPAddressV4 = v4
		}
		if validIP(v6) {
			r.IPAddressV6 = v6
		}
		if c := pfGet(prefix + "/remoteIpDetails/country/countryName"); c != "" {
			r.Country = &Country{CountryName: clip(c, maxID)}
		}
		if o := pfGet(prefix + "/remoteIpDetails/organization/org"); o != "" {
			r.Organization = &Organization{Org: clip(o, maxID), AsnOrg: clip(pfGet(prefix+"/remoteIpDetails/organization/asnOrg"), maxID), Isp: clip(pfGet(prefix+"/remoteIpDetails/organization/isp"), maxID)}
		}
		return r
	}
	port := func(key string) *PortDetails {
		n, err := strconv.Atoi(pfGet(key))
		if err != nil || n < 0 || n > 65535 {
			return nil
		}
		return &PortDetails{Port: n}
	}
	act := &Action{ActionType: clip(typ, maxID)}
	switch typ {
	case "AWS_API_CALL":
		const p = "action/awsApiCallAction"
		act.AwsAPICallAction = &AwsAPICallAction{
			API: clip(pfGet(p+"/api"), maxID), ServiceName: clip(pfGet(p+"/serviceName"), maxID),
			CallerType: clip(pfGet(p+"/callerType"), maxID), RemoteIPDetails: remote(p),
		}
	case "NETWORK_CONNECTION":
		const p = "action/networkConnectionAction"
		act.NetworkConnectionAction = &NetworkConnectionAction{
			ConnectionDirection: clip(pfGet(p+"/connectionDirection"), maxID), Protocol: clip(pfGet(p+"/protocol"), maxID),
			Blocked: pfGet(p+"/blocked") == "true", LocalPortDetails: port(p + "/localPortDetails/port"),
			RemotePortDetails: port(p + "/remotePortDetails/port"), RemoteIPDetails: remote(p),
		}
	case "DNS_REQUEST":
		const p = "action/dnsRequestAction"
		act.DNSRequestAction = &DNSRequestAction{Domain: clip(pfGet(p+"/domain"), maxText), Protocol: clip(pfGet(p+"/protocol"), maxID)}
	case "PORT_PROBE":
		pp := &PortProbeAction{Blocked: pfGet("action/portProbeAction/blocked") == "true"}
		for i := 0; i < maxList; i++ {
			p := "action/portProbeAction/portProbeDetails/" + strconv.Itoa(i)
			r, lp := remote(p), port(p+"/localPortDetails/port")
			if r == nil && lp == nil {
				break
			}
			pp.PortProbeDetails = append(pp.PortProbeDetails, PortProbeDetail{LocalPortDetails: lp, RemoteIPDetails: r})
		}
		act.PortProbeAction = pp
	}
	return act
}

func validIP(s string) bool {
	if s == "" {
		return false
	}
	_, err := netip.ParseAddr(s)
	return err == nil
}

// asffResources maps ASFF Resources to GuardDuty resource blocks; ResourceType is that of the first
// resource we recognise (GuardDuty lists the affected resource first).
func (d *decoder) asffResources(a value) (res Resource) {
	d.in("Resources[]", func() {
		for it := d.arr(a, "Resources").iter(); it.next(); {
			r := it.v
			typ := string(r.getStr("Type"))
			id := d.str(r, "Id", maxARN)
			det := r.get("Details")
			var kind string
			switch typ {
			case "AwsEc2Instance":
				kind = "Instance"
				x := det.get("AwsEc2Instance")
				in := &InstanceDetails{InstanceID: lastAfter(id, "instance/"), Tags: d.asffTags(r)}
				if x.exists() {
					d.in("Details.AwsEc2Instance", func() {
						in.InstanceType = d.str(x, "Type", maxID)
						in.ImageID = d.str(x, "ImageId", maxID)
						if p := d.str(x, "IamInstanceProfileArn", maxARN); p != "" {
							in.IamInstanceProfile = &IamInstanceProfile{Arn: p}
						}
						vpc, subnet := d.str(x, "VpcId", maxID), d.str(x, "SubnetId", maxID)
						for it := d.arr(x, "NetworkInterfaces").iter(); it.next(); {
							n := it.v
							in.NetworkInterfaces = append(in.NetworkInterfaces, NetworkInterface{
								NetworkInterfaceID: d.str(n, "NetworkInterfaceId", maxID), VpcID: vpc, SubnetID: subnet,
							})
						}
						if len(in.NetworkInterfaces) == 0 && (vpc != "" || subnet != "") {
							in.NetworkInterfaces = []NetworkInterface{{VpcID: vpc, SubnetID: subnet}}
						}
					})
				}
				res.InstanceDetails = in
			case "AwsIamAccessKey":
				kind = "AccessKey"
				x := det.get("AwsIamAccessKey")
				ak := &AccessKeyDetails{}
				if k := strings.TrimPrefix(id, "AWS::IAM::AccessKey:"); k != id && k != "null" {
					ak.AccessKeyID = k
				}
				if x.exists() {
					d.in("Details.AwsIamAccessKey", func() {
						if k := d.str(x, "AccessKeyId", maxID); k != "" {
							ak.AccessKeyID = k
						}
						ak.PrincipalID = d.str(x, "PrincipalId", maxID)
						ak.UserName = d.str(x, "PrincipalName", maxID)
						if ak.UserName == "" {
							ak.UserName = d.str(x, "UserName", maxID)
						}
						ak.UserType = d.str(x, "PrincipalType", maxID)
					})
				}
				res.AccessKeyDetails = ak
			case "AwsS3Bucket":
				kind = "S3Bucket"
				name := strings.TrimPrefix(id, "arn:"+string(r.getStr("Partition"))+":s3:::")
				if n := det.getStr("AwsS3Bucket", "Name"); len(n) > 0 && len(n) <= maxID {
					name = string(n)
				}
				if name == id || len(name) > maxID {
					name = lastAfter(id, ":::")
				}
				res.S3BucketDetails = append(res.S3BucketDetails, S3BucketDetail{Arn: id, Name: name, Tags: d.asffTags(r)})
			case "AwsEksCluster":
				kind = "EKSCluster"
				name := string(det.getStr("AwsEksCluster", "Name"))
				if name == "" || len(name) > maxID {
					name = lastAfter(id, "cluster/")
				}
				res.EksClusterDetails = &EksClusterDetails{Name: name, Arn: id, Tags: d.asffTags(r)}
			case "AwsRdsDbInstance":
				kind = "RDSDBInstance"
				x := det.get("AwsRdsDbInstance")
				rd := &RdsDbInstanceDetails{DbInstanceArn: id, Tags: d.asffTags(r)}
				if x.exists() {
					d.in("Details.AwsRdsDbInstance", func() {
						rd.DbInstanceIdentifier = d.str(x, "DbInstanceIdentifier", maxID)
						rd.DbClusterIdentifier = d.str(x, "DbClusterIdentifier", maxID)
						rd.Engine = d.str(x, "Engine", maxID)
						rd.EngineVersion = d.str(x, "EngineVersion", maxID)
					})
				}
				res.RdsDbInstanceDetails = rd
			case "AwsLambdaFunction":
				kind = "Lambda"
				name := string(det.getStr("AwsLambdaFunction", "FunctionName"))
				if name == "" || len(name) > maxID {
					name = lastAfter(id, "function:")
				}
				res.LambdaDetails = &LambdaDetails{FunctionArn: id, FunctionName: name, Tags: d.asffTags(r)}
			case "AwsEcsCluster":
				kind = "ECSCluster"
				if res.EcsClusterDetails == nil {
					res.EcsClusterDetails = &EcsClusterDetails{}
				}
				res.EcsClusterDetails.Arn = id
				res.EcsClusterDetails.Name = lastAfter(id, "cluster/")
			case "AwsEcsTask":
				kind = "ECSCluster"
				if res.EcsClusterDetails == nil {
					res.EcsClusterDetails = &EcsClusterDetails{}
				}
				t := &EcsTaskDetails{Arn: id}
				if x := det.get("AwsEcsTask"); x.exists() {
					d.in("Details.AwsEcsTask", func() {
						t.DefinitionArn = d.str(x, "TaskDefinitionArn", maxARN)
						if c := d.str(x, "ClusterArn", maxARN); c != "" && res.EcsClusterDetails.Arn == "" {
							res.EcsClusterDetails.Arn, res.EcsClusterDetails.Name = c, lastAfter(c, "cluster/")
						}
					})
				}
				res.EcsClusterDetails.TaskDetails = t
			case "Container":
				kind = "Container"
				c := &Container{ID: id}
				if x := det.get("Container"); x.exists() {
					d.in("Details.Container", func() {
						c.Name = d.str(x, "Name", maxID)
						c.Image = d.str(x, "ImageName", maxText)
						c.ContainerRuntime = d.str(x, "ContainerRuntime", maxID)
						if d.bool(x, "Privileged") {
							c.SecurityContext = &SecurityContext{Privileged: true}
						}
					})
				}
				res.ContainerDetails = c
			}
			if res.ResourceType == "" {
				res.ResourceType = kind
			}
		}
	})
	return res
}

// asffTags reads ASFF's Tags map, sorted by key so output is deterministic.
func (d *decoder) asffTags(r value) []Tag {
	o := r.get("Tags")
	if o.typ() != typeObject || o.len() == 0 {
		return nil
	}
	if o.len() > maxTags {
		d.failf("%s has %d tags; AWS allows %d", d.field("Tags"), o.len(), maxTags)
		return nil
	}
	o.d.repeatedNames(o)
	var tags []Tag
	for k, v := range o.members() {
		val, _ := v.str()
		if utf8.RuneCount(k) > maxTagKey || utf8.RuneCount(val) > maxTagVal {
			d.failf("%s has a tag longer than AWS allows", d.field("Tags"))
			continue
		}
		tags = append(tags, Tag{Key: string(k), Value: string(val)})
	}
	slices.SortFunc(tags, func(a, b Tag) int { return strings.Compare(a.Key, b.Key) })
	return tags
}

// lastAfter returns what follows the last sep in s, or s when sep is absent.
func lastAfter(s, sep string) string {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[i+len(sep):]
	}
	return s
}
