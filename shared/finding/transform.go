package finding

import (
	"slices"
	"strings"

	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/guardduty"
)

// FromGuardDuty normalizes a parsed GuardDuty finding. It copies every identifier present, whatever the
// resource kind (a bot decides what it needs), and rejects a finding whose kind lacks the identifier
// that kind is acted on by (an Instance finding without an instance id, …).
func FromGuardDuty(p *guardduty.Parsed) (*Finding, error) {
	if p == nil || p.Finding == nil {
		return nil, faults.Rejectf("transform: no GuardDuty finding in the parse output")
	}
	g := p.Finding
	r := &g.Resource
	parts, ok := ParseType(g.Type)
	if !ok {
		return nil, faults.Rejectf("transform: type %q is not ThreatPurpose:ResourceType/ThreatFamily", g.Type)
	}
	f := &Finding{
		ID:            g.ID,
		Arn:           g.Arn,
		Type:          g.Type,
		TypeParts:     parts,
		Title:         g.Title,
		Severity:      g.Severity,
		SeverityLabel: Label(g.Severity),
		AccountID:     g.AccountID,
		Region:        g.Region,
		Partition:     g.Partition,
		CreatedAt:     g.CreatedAt,
		UpdatedAt:     g.UpdatedAt,
		FirstSeen:     g.Service.EventFirstSeen,
		LastSeen:      g.Service.EventLastSeen,
		Count:         g.Service.Count,
		Archived:      g.Service.Archived,
		Sample:        g.Service.AdditionalInfo != nil && g.Service.AdditionalInfo.Sample,
		DetectorID:    g.Service.DetectorID,
		Source:        string(p.Source),
		ResourceType:  r.ResourceType,
		ResourceRole:  g.Service.ResourceRole,
		Action:        action(g.Service.Action),
	}
	if f.Partition == "" {
		f.Partition = PartitionOf(g.Region)
	}
	if f.DetectorID == "" {
		f.DetectorID = detectorFromArn(g.Arn)
	}

	if in := r.InstanceDetails; in != nil {
		f.Instance = instance(in)
	}
	if ak := r.AccessKeyDetails; ak != nil {
		f.AccessKey = &AccessKey{
			AccessKeyID: ak.AccessKeyID,
			PrincipalID: ak.PrincipalID,
			UserName:    ak.UserName,
			UserType:    userType(ak.UserType),
			RawUserType: ak.UserType,
		}
	}
	for _, b := range r.S3BucketDetails {
		if b.Name == "" {
			continue
		}
		bk := Bucket{Name: b.Name, Arn: b.Arn, Role: b.Type, Tags: tagMap(b.Tags)}
		if b.PublicAccess != nil {
			bk.EffectivePermission = b.PublicAccess.EffectivePermission
		}
		f.Buckets = append(f.Buckets, bk)
		for _, o := range b.S3ObjectDetails {
			f.S3Objects = append(f.S3Objects, S3Object{
				Bucket: b.Name, Key: o.Key, VersionID: o.VersionID, ETag: o.ETag, Hash: o.Hash, Arn: o.ObjectArn,
			})
		}
	}
	if d := g.Service.Detection; d != nil && d.Sequence != nil {
		f.Sequence = sequence(d.Sequence, f)
	}
	if m := g.Service.MalwareScanDetails; m != nil {
		f.Malware = malware(m)
	}
	if e := r.EksClusterDetails; e != nil || r.KubernetesDetails != nil {
		f.EKS = eks(e, r.KubernetesDetails)
		if k := r.KubernetesDetails; k != nil && k.KubernetesWorkloadDetails != nil {
			f.Containers = appendContainers(f.Containers, k.KubernetesWorkloadDetails.Containers)
		}
	}
	if d := r.RdsDbInstanceDetails; d != nil || r.RdsDbUserDetails != nil {
		f.RDS = &RDS{}
		if d != nil {
			f.RDS.InstanceID, f.RDS.ClusterID, f.RDS.Arn, f.RDS.Engine = d.DbInstanceIdentifier, d.DbClusterIdentifier, d.DbInstanceArn, d.Engine
			f.RDS.Tags = tagMap(d.Tags)
		}
		if u := r.RdsDbUserDetails; u != nil {
			f.RDS.DBUser = u.User
		}
	}
	if l := r.LambdaDetails; l != nil {
		f.Lambda = &Lambda{
			FunctionName: l.FunctionName, FunctionArn: l.FunctionArn, Version: l.FunctionVersion,
			RoleArn: l.Role, Tags: tagMap(l.Tags),
		}
		if f.Lambda.FunctionName == "" {
			f.Lambda.FunctionName = functionNameFromArn(l.FunctionArn)
		}
		if l.VpcConfig != nil {
			f.Lambda.VpcID = l.VpcConfig.VpcID
		}
	}
	if e := r.EcsClusterDetails; e != nil {
		f.ECS = &ECS{ClusterName: e.Name, ClusterArn: e.Arn}
		if t := e.TaskDetails; t != nil {
			f.ECS.TaskArn, f.ECS.TaskDefinitionArn, f.ECS.LaunchType = t.Arn, t.DefinitionArn, t.LaunchType
			f.Containers = appendContainers(f.Containers, t.Containers)
		}
		if f.ECS.ClusterName == "" {
			f.ECS.ClusterName = after(f.ECS.ClusterArn, "cluster/")
		}
	}
	if c := r.ContainerDetails; c != nil {
		f.Containers = appendContainers(f.Containers, []guardduty.Container{*c})
	}

	f.ResourceKind = Kind(parts, f)
	if err := requireIdentifiers(f); err != nil {
		return nil, err
	}
	return f, nil
}

// knownMechanisms are the DetectionMechanism suffixes GuardDuty documents for its finding types
// (".B" and ".C" are the detection-model generations, the rest are self-describing).
var knownMechanisms = map[string]bool{
	"B": true, "C": true, "Custom": true, "Reputation": true, "OutsideAWS": true, "InsideAWS": true,
	"Unusual": true, "Tcp": true, "Udp": true, "Dns": true, "UdpOnTcpPorts": true, "UnusualProtocol": true,
}

// ParseType splits ThreatPurpose:ResourceTypeAffected/ThreatFamilyName.DetectionMechanism!Artifact.
//
// Rule: the artifact is what follows the first "!"; of the rest, the part after the LAST "." is the
// detection mechanism only when it is a known one (knownMechanisms), and the family is what precedes
// it. Otherwise the whole name, dots included, is the family: "AnomalousBehavior.SuccessfulLogin" and
// "Stateless.IntegTest" name behaviours, not detection mechanisms.
func ParseType(t string) (TypeParts, bool) {
	purpose, rest, ok := strings.Cut(t, ":")
	if !ok || purpose == "" {
		return TypeParts{}, false
	}
	resource, name, ok := strings.Cut(rest, "/")
	if !ok || resource == "" || name == "" {
		return TypeParts{}, false
	}
	tp := TypeParts{ThreatPurpose: purpose, ResourceType: resource}
	name, tp.Artifact, _ = strings.Cut(name, "!")
	tp.ThreatFamily = name
	if i := strings.LastIndexByte(name, '.'); i > 0 && knownMechanisms[name[i+1:]] {
		tp.ThreatFamily, tp.DetectionMechanism = name[:i], name[i+1:]
	}
	if tp.ThreatFamily == "" {
		return TypeParts{}, false
	}
	return tp, true
}

// Label is GuardDuty's severity band: LOW < 4 ≤ MEDIUM < 7 ≤ HIGH < 9 ≤ CRITICAL.
func Label(s float64) SeverityLabel {
	switch {
	case s >= 9:
		return SeverityCritical
	case s >= 7:
		return SeverityHigh
	case s >= 4:
		return SeverityMedium
	}
	return SeverityLow
}

// PartitionOf is the partition of a region, for findings that do not say (older events).
func PartitionOf(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "us-isob-"):
		return "aws-iso-b"
	case strings.HasPrefix(region, "us-iso-"):
		return "aws-iso"
	}
	return "aws"
}

// Kind derives what the bots act on from the type's resource part and the blocks present. Sample
// findings carry a placeholder instanceDetails on non-EC2 types, so the type decides first and the
// blocks only break ties inside a resource part (S3, Runtime) or confirm an unknown one.
func Kind(parts TypeParts, f *Finding) ResourceKind {
	if parts.ThreatPurpose == "AttackSequence" || f.ResourceType == "AttackSequence" {
		return KindAttackSequence
	}
	switch parts.ResourceType {
	case "EC2":
		return KindInstance
	case "IAMUser":
		return KindAccessKey
	case "S3":
		// Object:S3/MaliciousFile names the object version the scan found malicious.
		if f.ResourceType == "S3Object" || len(f.S3Objects) > 0 {
			return KindS3Object
		}
		// Policy:S3/* and Stealth:S3/* carry resourceType AccessKey, yet the bucket is what to fix.
		if len(f.Buckets) > 0 {
			return KindS3Bucket
		}
		if f.AccessKey != nil {
			return KindAccessKey
		}
		return KindOther
	case "Kubernetes", "EKS":
		return KindEKSCluster
	case "RDS":
		return KindRDSDBInstance
	case "Lambda":
		return KindLambdaFunction
	case "Runtime", "Container", "ECS":
		switch {
		case f.ECS != nil || f.ResourceType == "ECSCluster":
			return KindECSCluster
		case f.ResourceType == "EKSCluster" && f.EKS != nil:
			return KindEKSCluster
		case f.ResourceType == "Container" || len(f.Containers) > 0 && f.Instance == nil:
			return KindContainer
		case f.Instance != nil:
			return KindInstance
		}
	}
	return KindOther
}

// requireIdentifiers rejects a finding whose kind lacks the identifier bots of that kind act on.
func requireIdentifiers(f *Finding) error {
	missing := ""
	switch f.ResourceKind {
	case KindInstance:
		if f.Instance == nil || f.Instance.ID == "" {
			missing = "resource.instanceDetails.instanceId"
		}
	case KindAccessKey:
		if f.AccessKey == nil || f.AccessKey.AccessKeyID == "" && f.AccessKey.UserName == "" && f.AccessKey.PrincipalID == "" {
			missing = "resource.accessKeyDetails (accessKeyId, userName or principalId)"
		}
	case KindS3Bucket:
		// Kind only says S3Bucket when a bucket name is present.
	case KindS3Object:
		if !slices.ContainsFunc(f.S3Objects, func(o S3Object) bool { return o.Bucket != "" && o.Key != "" }) {
			missing = "resource.s3BucketDetails[].s3ObjectDetails[] (a bucket name and an object key)"
		} else if _, err := s3Objects(f); err != nil {
			// A key, version or ARN no bot could act on is refused here, before match decides on it.
			return faults.Rejectf("transform: S3Object finding %s: %v", f.ID, err)
		}
	case KindEKSCluster:
		if f.EKS == nil || f.EKS.ClusterName == "" {
			missing = "resource.eksClusterDetails.name"
		}
	case KindRDSDBInstance:
		if f.RDS == nil || f.RDS.InstanceID == "" && f.RDS.ClusterID == "" {
			missing = "resource.rdsDbInstanceDetails (dbInstanceIdentifier or dbClusterIdentifier)"
		}
	case KindLambdaFunction:
		if f.Lambda == nil || f.Lambda.FunctionName == "" {
			missing = "resource.lambdaDetails (functionName or functionArn)"
		}
	case KindECSCluster:
		if f.ECS == nil || f.ECS.ClusterName == "" {
			missing = "resource.ecsClusterDetails (name or arn)"
		}
	case KindContainer:
		if len(f.Containers) == 0 {
			missing = "resource.containerDetails"
		}
	}
	if missing != "" {
		return faults.Rejectf("transform: %s finding %s (resourceType %q) has no %s", f.ResourceKind, f.ID, f.ResourceType, missing)
	}
	return nil
}

// userType reduces GuardDuty's userType to the enum; anything else (including the sample placeholder
// "GeneratedFindingUserType") is Other, with the raw value kept beside it.
func userType(s string) UserType {
	switch s {
	case "":
		return UserTypeNone
	case "IAMUser":
		return UserTypeIAMUser
	case "Root":
		return UserTypeRoot
	case "AssumedRole":
		return UserTypeAssumedRole
	case "Role":
		return UserTypeRole
	case "FederatedUser":
		return UserTypeFederatedUser
	case "AWSService":
		return UserTypeAWSService
	}
	return UserTypeOther
}

func instance(in *guardduty.InstanceDetails) *Instance {
	out := &Instance{
		ID: in.InstanceID, State: in.InstanceState, Type: in.InstanceType,
		AvailabilityZone: in.AvailabilityZone, ImageID: in.ImageID, Tags: tagMap(in.Tags),
	}
	if in.IamInstanceProfile != nil {
		out.InstanceProfileArn = in.IamInstanceProfile.Arn
	}
	if len(in.NetworkInterfaces) > 0 {
		out.NetworkInterfaces = make([]NetworkInterface, 0, len(in.NetworkInterfaces))
	}
	for _, n := range in.NetworkInterfaces {
		ni := NetworkInterface{ID: n.NetworkInterfaceID, VpcID: n.VpcID, SubnetID: n.SubnetID, PrivateIP: n.PrivateIPAddress, PublicIP: n.PublicIP}
		for _, sg := range n.SecurityGroups {
			if sg.GroupID != "" {
				ni.SecurityGroupIDs = append(ni.SecurityGroupIDs, sg.GroupID)
			}
		}
		out.NetworkInterfaces = append(out.NetworkInterfaces, ni)
		if out.VpcID == "" {
			out.VpcID, out.SubnetID = n.VpcID, n.SubnetID
		}
	}
	return out
}

// sequenceKinds maps GuardDuty's ResourceV2 types to this version's resource kinds; a type not here
// (a launch template, a VPC, …) is Other, kept with its type.
var sequenceKinds = map[string]ResourceKind{
	"EC2_INSTANCE": KindInstance, "ACCESS_KEY": KindAccessKey, "S3_BUCKET": KindS3Bucket, "S3_OBJECT": KindS3Object,
	"EKS_CLUSTER": KindEKSCluster, "ECS_CLUSTER": KindECSCluster, "CONTAINER": KindContainer,
}

// sequence normalizes an attack sequence's members. A member without an account or region is in the
// finding's.
func sequence(q *guardduty.Sequence, f *Finding) *Sequence {
	out := &Sequence{UID: q.UID, Description: q.Description}
	for _, r := range q.Resources {
		kind, ok := sequenceKinds[r.ResourceType]
		if !ok {
			kind = KindOther
		}
		m := SequenceResource{Kind: kind, Type: r.ResourceType, ID: firstOf(r.UID, r.Name), Name: r.Name,
			Account: firstOf(r.AccountID, f.AccountID), Region: firstOf(r.Region, f.Region)}
		out.Resources = append(out.Resources, m)
	}
	for _, g := range q.Signals {
		out.Signals = append(out.Signals, SequenceSignal{Name: g.Name, Type: g.Type, UID: g.UID, Severity: g.Severity, Count: g.Count})
	}
	for _, a := range q.Actors {
		s := SequenceSession{Actor: a.ID}
		if u := a.User; u != nil {
			s.User, s.UserType, s.UserID, s.Credential, s.Account = u.Name, u.Type, u.UID, u.CredentialUID, u.AccountUID
		}
		if ss := a.Session; ss != nil {
			s.Session, s.MFA, s.Issuer = ss.UID, ss.MfaStatus, ss.Issuer
		}
		out.Sessions = append(out.Sessions, s)
	}
	for _, e := range q.Endpoints {
		out.Endpoints = append(out.Endpoints, SequenceEndpoint{IP: e.IP, Domain: e.Domain, Port: e.Port})
	}
	out.Resources, out.Signals = capped(out.Resources, &out.Omitted), capped(out.Signals, &out.Omitted)
	out.Sessions, out.Endpoints = capped(out.Sessions, &out.Omitted), capped(out.Endpoints, &out.Omitted)
	return out
}

// capped keeps the first MaxSequenceItems of s, counting the rest in omitted.
func capped[T any](s []T, omitted *int) []T {
	if len(s) <= MaxSequenceItems {
		return s
	}
	*omitted += len(s) - MaxSequenceItems
	return s[:MaxSequenceItems]
}

// malware keeps the threats' names and hashes and the paths inside the object they were found at.
func malware(m *guardduty.MalwareScanDetails) *Malware {
	out := &Malware{ScanID: m.ScanID, ScanType: m.ScanType}
	for _, t := range m.Threats {
		th := MalwareThreat{Name: t.Name, Source: t.Source, Hash: t.Hash}
		for _, p := range t.ItemPaths {
			if p.NestedItemPath != "" {
				th.Paths = append(th.Paths, p.NestedItemPath)
			}
		}
		for _, it := range t.ItemDetails {
			if it.ItemPath != "" && !slices.Contains(th.Paths, it.ItemPath) {
				th.Paths = append(th.Paths, it.ItemPath)
			}
		}
		out.Threats = append(out.Threats, th)
	}
	return out
}

func eks(e *guardduty.EksClusterDetails, k *guardduty.KubernetesDetails) *EKS {
	out := &EKS{}
	if e != nil {
		out.ClusterName, out.ClusterArn, out.VpcID, out.Tags = e.Name, e.Arn, e.VpcID, tagMap(e.Tags)
	}
	if k != nil {
		if u := k.KubernetesUserDetails; u != nil {
			out.User, out.UserGroups = u.Username, u.Groups
		}
		if w := k.KubernetesWorkloadDetails; w != nil {
			out.Workload = &Workload{Name: w.Name, Namespace: w.Namespace, Type: w.Type, UID: w.UID}
		}
	}
	return out
}

func appendContainers(dst []Container, src []guardduty.Container) []Container {
	for _, c := range src {
		dst = append(dst, Container{
			ID: c.ID, Name: c.Name, Image: c.Image,
			Privileged: c.SecurityContext != nil && c.SecurityContext.Privileged,
		})
	}
	return dst
}

// action flattens GuardDuty's action: every remote address across all action kinds, deduplicated in
// the order met, so a blocking bot has one list to act on.
func action(a *guardduty.Action) *Action {
	if a == nil {
		return nil
	}
	out := &Action{Type: a.ActionType}
	add := func(r *guardduty.RemoteIPDetails) {
		if r == nil {
			return
		}
		ri := RemoteIP{}
		if r.Country != nil {
			ri.Country = r.Country.CountryName
		}
		if o := r.Organization; o != nil {
			ri.Organization = o.Org
			if ri.Organization == "" {
				ri.Organization = o.AsnOrg
			}
		}
		for _, addr := range [2]string{r.IPAddressV4, r.IPAddressV6} {
			if addr != "" {
				ri.Address = addr
				out.addIP(ri)
			}
		}
	}
	if n := a.NetworkConnectionAction; n != nil {
		out.Direction, out.Protocol = n.ConnectionDirection, n.Protocol
		if n.LocalPortDetails != nil {
			out.LocalPorts = addPort(out.LocalPorts, n.LocalPortDetails.Port)
		}
		if n.RemotePortDetails != nil {
			out.RemotePorts = addPort(out.RemotePorts, n.RemotePortDetails.Port)
		}
		add(n.RemoteIPDetails)
	}
	if pp := a.PortProbeAction; pp != nil {
		for _, d := range pp.PortProbeDetails {
			if d.LocalPortDetails != nil {
				out.LocalPorts = addPort(out.LocalPorts, d.LocalPortDetails.Port)
			}
			add(d.RemoteIPDetails)
		}
	}
	if c := a.AwsAPICallAction; c != nil {
		out.API, out.ServiceName = c.API, c.ServiceName
		add(c.RemoteIPDetails)
		if c.RemoteAccountDetails != nil {
			out.RemoteAccountID = c.RemoteAccountDetails.AccountID
		}
		out.Trail = c.AffectedResources["AWS::CloudTrail::Trail"]
	}
	if k := a.KubernetesAPICallAction; k != nil {
		add(k.RemoteIPDetails)
		for _, ip := range k.SourceIPs {
			out.addIP(RemoteIP{Address: ip})
		}
	}
	if r := a.RdsLoginAttemptAction; r != nil {
		add(r.RemoteIPDetails)
	}
	if d := a.DNSRequestAction; d != nil {
		out.Domain = d.Domain
		if out.Protocol == "" {
			out.Protocol = d.Protocol
		}
	}
	if out.Type == "" && len(out.RemoteIPs) == 0 && out.Domain == "" && out.API == "" {
		return nil // Runtime Monitoring findings carry an empty action.
	}
	return out
}

func (a *Action) addIP(ri RemoteIP) {
	for _, have := range a.RemoteIPs {
		if have.Address == ri.Address {
			return
		}
	}
	a.RemoteIPs = append(a.RemoteIPs, ri)
}

func addPort(ports []int, p int) []int {
	if p <= 0 {
		return ports
	}
	for _, have := range ports {
		if have == p {
			return ports
		}
	}
	return append(ports, p)
}

// tagMap turns GuardDuty's tag list into a map; lengths were bounded at parse to AWS's tag limits.
func tagMap(tags []guardduty.Tag) map[string]string {
	if len(tags) == 0 {
		return nil
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}

// detectorFromArn reads the detector id out of arn:…:detector/<id>/finding/<id>.
func detectorFromArn(arn string) string {
	_, rest, ok := strings.Cut(arn, ":detector/")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, "/")
	return id
}

func functionNameFromArn(arn string) string {
	name := after(arn, ":function:")
	name, _, _ = strings.Cut(name, ":") // drop a version or alias qualifier
	return name
}

// after returns what follows sep in s, or "" when sep is absent.
func after(s, sep string) string {
	if i := strings.Index(s, sep); i >= 0 {
		return s[i+len(sep):]
	}
	return ""
}
