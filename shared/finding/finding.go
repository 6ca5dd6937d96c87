// Package finding holds the normalized remediation finding: the one JSON contract every step after
// transform reads (match, each bot, notify), whatever envelope or product the finding arrived through.
//
// Every identifier a bot needs is here, taken from the finding itself — account, region and partition
// included: in an organization the EventBridge envelope's account is the GuardDuty administrator, not the
// member that owns the resource.
package finding

// Finding is a normalized GuardDuty finding.
type Finding struct {
	// ID is GuardDuty's finding id: stable across re-publications of the same finding (the dedup key).
	ID  string `json:"id"`
	Arn string `json:"arn,omitempty"`
	// Type is the full finding type, e.g. "Backdoor:EC2/C&CActivity.B!DNS"; TypeParts splits it.
	Type      string    `json:"type"`
	TypeParts TypeParts `json:"typeParts"`
	Title     string    `json:"title,omitempty"`

	Severity      float64       `json:"severity"`
	SeverityLabel SeverityLabel `json:"severityLabel"`

	AccountID string `json:"accountId"`
	Region    string `json:"region"`
	Partition string `json:"partition"`

	CreatedAt  string `json:"createdAt,omitempty"`
	UpdatedAt  string `json:"updatedAt,omitempty"`
	FirstSeen  string `json:"firstSeen,omitempty"`
	LastSeen   string `json:"lastSeen,omitempty"`
	Count      int64  `json:"count"`
	Archived   bool   `json:"archived"`
	Sample     bool   `json:"sample"`
	DetectorID string `json:"detectorId,omitempty"`

	// Source says which route the finding came by (see guardduty.Source).
	Source string `json:"source"`

	// ResourceKind is what the bots act on, derived from the finding type and the resource blocks.
	ResourceKind ResourceKind `json:"resourceKind"`
	// ResourceType is GuardDuty's own resource type, kept as sent.
	ResourceType string `json:"resourceType"`
	// ResourceRole is TARGET (the resource was attacked) or ACTOR (the resource is the attacker).
	ResourceRole string `json:"resourceRole,omitempty"`

	// Action is what GuardDuty observed.
	Action *Action `json:"action,omitempty"`

	Instance  *Instance  `json:"instance,omitempty"`
	AccessKey *AccessKey `json:"accessKey,omitempty"`
	Buckets   []Bucket   `json:"buckets,omitempty"`
	// S3Objects are the objects of an S3Object finding (Malware Protection for S3), each with its
	// bucket; Malware is what the scan found in them.
	S3Objects  []S3Object  `json:"s3Objects,omitempty"`
	Malware    *Malware    `json:"malware,omitempty"`
	EKS        *EKS        `json:"eks,omitempty"`
	RDS        *RDS        `json:"rds,omitempty"`
	Lambda     *Lambda     `json:"lambda,omitempty"`
	ECS        *ECS        `json:"ecs,omitempty"`
	Containers []Container `json:"containers,omitempty"`
	// Sequence is an attack sequence's members (AttackSequence:*), from service.detection.sequence.
	Sequence *Sequence `json:"sequence,omitempty"`
}

// Sequence is what an Extended Threat Detection attack sequence ties together: every resource with its
// kind, identifier, account and region; the signals (findings and activity) by name; the sessions of
// its actors; the network endpoints.
type Sequence struct {
	UID         string             `json:"uid,omitempty"`
	Description string             `json:"description,omitempty"`
	Resources   []SequenceResource `json:"resources,omitempty"`
	Signals     []SequenceSignal   `json:"signals,omitempty"`
	Sessions    []SequenceSession  `json:"sessions,omitempty"`
	Endpoints   []SequenceEndpoint `json:"endpoints,omitempty"`
	// Omitted counts what transform left out past MaxSequenceItems of each list (resources, signals,
	// sessions, endpoints): the finding travels in every state of the workflow, which Step Functions
	// keeps under 256 KB. The notification says so.
	Omitted int `json:"omitted,omitempty"`
}

// MaxSequenceItems is the most resources, signals, sessions and endpoints each a normalized attack
// sequence keeps, in GuardDuty's order.
const MaxSequenceItems = 100

// SequenceResource is one member resource. Kind is this version's resource kind for GuardDuty's
// resource type (Type, kept as sent); Account and Region are the resource's, the finding's where
// GuardDuty gives none.
type SequenceResource struct {
	Kind    ResourceKind `json:"kind"`
	Type    string       `json:"type"`
	ID      string       `json:"id"`
	Name    string       `json:"name,omitempty"`
	Account string       `json:"account"`
	Region  string       `json:"region"`
}

type SequenceSignal struct {
	Name     string  `json:"name"`
	Type     string  `json:"type,omitempty"`
	UID      string  `json:"uid,omitempty"`
	Severity float64 `json:"severity,omitempty"`
	Count    int64   `json:"count,omitempty"`
}

// SequenceSession is an actor's identity and session: who acted, with which credentials.
type SequenceSession struct {
	Actor      string `json:"actor,omitempty"`
	User       string `json:"user,omitempty"`
	UserType   string `json:"userType,omitempty"`
	UserID     string `json:"userId,omitempty"`
	Credential string `json:"credential,omitempty"`
	Account    string `json:"account,omitempty"`
	Session    string `json:"session,omitempty"`
	MFA        string `json:"mfa,omitempty"`
	Issuer     string `json:"issuer,omitempty"`
}

type SequenceEndpoint struct {
	IP     string `json:"ip,omitempty"`
	Domain string `json:"domain,omitempty"`
	Port   int64  `json:"port,omitempty"`
}

// TypeParts is ThreatPurpose:ResourceTypeAffected/ThreatFamilyName.DetectionMechanism!Artifact.
type TypeParts struct {
	ThreatPurpose      string `json:"threatPurpose"`
	ResourceType       string `json:"resourceType"`
	ThreatFamily       string `json:"threatFamily"`
	DetectionMechanism string `json:"detectionMechanism,omitempty"`
	Artifact           string `json:"artifact,omitempty"`
}

// SeverityLabel follows GuardDuty's bands.
type SeverityLabel string

const (
	SeverityLow      SeverityLabel = "LOW"      // 1.0–3.9
	SeverityMedium   SeverityLabel = "MEDIUM"   // 4.0–6.9
	SeverityHigh     SeverityLabel = "HIGH"     // 7.0–8.9
	SeverityCritical SeverityLabel = "CRITICAL" // 9.0–10 (attack sequences)
)

// ResourceKind names what a bot can act on.
type ResourceKind string

const (
	KindInstance  ResourceKind = "Instance"
	KindAccessKey ResourceKind = "AccessKey"
	KindS3Bucket  ResourceKind = "S3Bucket"
	// KindS3Object is an object version a Malware Protection for S3 scan found malicious.
	KindS3Object       ResourceKind = "S3Object"
	KindEKSCluster     ResourceKind = "EKSCluster"
	KindRDSDBInstance  ResourceKind = "RDSDBInstance"
	KindLambdaFunction ResourceKind = "LambdaFunction"
	KindContainer      ResourceKind = "Container"
	KindECSCluster     ResourceKind = "ECSCluster"
	KindAttackSequence ResourceKind = "AttackSequence"
	// KindOther is a resource type this version does not know; bots that act on a kind skip it.
	KindOther ResourceKind = "Other"
)

// Action is GuardDuty's observed action, flattened: the remote endpoints a bot may block.
type Action struct {
	Type string `json:"type"`
	// Direction is INBOUND or OUTBOUND for network connections.
	Direction string `json:"direction,omitempty"`
	Protocol  string `json:"protocol,omitempty"`
	// RemoteIPs are every remote address in the action (port probes list several), deduplicated.
	RemoteIPs   []RemoteIP `json:"remoteIps,omitempty"`
	LocalPorts  []int      `json:"localPorts,omitempty"`
	RemotePorts []int      `json:"remotePorts,omitempty"`
	Domain      string     `json:"domain,omitempty"`
	API         string     `json:"api,omitempty"`
	ServiceName string     `json:"serviceName,omitempty"`
	// RemoteAccountID is the foreign account of InstanceCredentialExfiltration.InsideAWS.
	RemoteAccountID string `json:"remoteAccountId,omitempty"`
	// Trail is the CloudTrail trail the API call acted on (affectedResources' AWS::CloudTrail::Trail):
	// its name or ARN, as GuardDuty gives it.
	Trail string `json:"trail,omitempty"`
}

type RemoteIP struct {
	Address      string `json:"address"`
	Country      string `json:"country,omitempty"`
	Organization string `json:"organization,omitempty"`
}

type Instance struct {
	ID                 string             `json:"id"`
	State              string             `json:"state,omitempty"`
	Type               string             `json:"type,omitempty"`
	AvailabilityZone   string             `json:"availabilityZone,omitempty"`
	ImageID            string             `json:"imageId,omitempty"`
	InstanceProfileArn string             `json:"instanceProfileArn,omitempty"`
	NetworkInterfaces  []NetworkInterface `json:"networkInterfaces,omitempty"`
	// VpcID and SubnetID are the first interface's, for bots that need one.
	VpcID    string            `json:"vpcId,omitempty"`
	SubnetID string            `json:"subnetId,omitempty"`
	Tags     map[string]string `json:"tags,omitempty"`
}

type NetworkInterface struct {
	ID               string   `json:"id"`
	VpcID            string   `json:"vpcId,omitempty"`
	SubnetID         string   `json:"subnetId,omitempty"`
	PrivateIP        string   `json:"privateIp,omitempty"`
	PublicIP         string   `json:"publicIp,omitempty"`
	SecurityGroupIDs []string `json:"securityGroupIds,omitempty"`
}

// UserType is GuardDuty's accessKeyDetails.userType reduced to what bots decide on. A value this version
// does not know becomes UserTypeOther, and the original stays in AccessKey.RawUserType.
type UserType string

const (
	UserTypeIAMUser       UserType = "IAMUser"
	UserTypeRoot          UserType = "Root"
	UserTypeAssumedRole   UserType = "AssumedRole"
	UserTypeRole          UserType = "Role"
	UserTypeFederatedUser UserType = "FederatedUser"
	UserTypeAWSService    UserType = "AWSService"
	UserTypeOther         UserType = "Other"
	UserTypeNone          UserType = ""
)

type AccessKey struct {
	AccessKeyID string   `json:"accessKeyId,omitempty"`
	PrincipalID string   `json:"principalId,omitempty"`
	UserName    string   `json:"userName,omitempty"`
	UserType    UserType `json:"userType"`
	RawUserType string   `json:"rawUserType,omitempty"`
}

type Bucket struct {
	Name string `json:"name"`
	Arn  string `json:"arn,omitempty"`
	// Role is GuardDuty's Source/Destination for the bucket.
	Role                string            `json:"role,omitempty"`
	EffectivePermission string            `json:"effectivePermission,omitempty"`
	Tags                map[string]string `json:"tags,omitempty"`
}

// S3Object is one scanned object version, as GuardDuty names it.
type S3Object struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	// VersionID is the scanned version; empty when the bucket was never versioned.
	VersionID string `json:"versionId,omitempty"`
	// ETag is the scanned content's entity tag: a bot checks the live object still has it.
	ETag string `json:"eTag,omitempty"`
	// Hash is GuardDuty's hash of the threat it found in the object.
	Hash string `json:"hash,omitempty"`
	Arn  string `json:"arn,omitempty"`
}

// Malware is what a Malware Protection scan found.
type Malware struct {
	ScanID   string          `json:"scanId,omitempty"`
	ScanType string          `json:"scanType,omitempty"`
	Threats  []MalwareThreat `json:"threats,omitempty"`
}

type MalwareThreat struct {
	Name   string `json:"name"`
	Source string `json:"source,omitempty"`
	Hash   string `json:"hash,omitempty"`
	// Paths are the items inside the object (an archive's members) the threat was found in.
	Paths []string `json:"paths,omitempty"`
}

type EKS struct {
	ClusterName string            `json:"clusterName"`
	ClusterArn  string            `json:"clusterArn,omitempty"`
	VpcID       string            `json:"vpcId,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	// User is the Kubernetes identity of the action (system:anonymous for anonymous access).
	User       string    `json:"user,omitempty"`
	UserGroups []string  `json:"userGroups,omitempty"`
	Workload   *Workload `json:"workload,omitempty"`
}

type Workload struct {
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Type      string `json:"type,omitempty"`
	UID       string `json:"uid,omitempty"`
}

type RDS struct {
	InstanceID string            `json:"instanceId,omitempty"`
	ClusterID  string            `json:"clusterId,omitempty"`
	Arn        string            `json:"arn,omitempty"`
	Engine     string            `json:"engine,omitempty"`
	DBUser     string            `json:"dbUser,omitempty"`
	Tags       map[string]string `json:"tags,omitempty"`
}

type Lambda struct {
	FunctionName string            `json:"functionName"`
	FunctionArn  string            `json:"functionArn,omitempty"`
	Version      string            `json:"version,omitempty"`
	RoleArn      string            `json:"roleArn,omitempty"`
	VpcID        string            `json:"vpcId,omitempty"`
	Tags         map[string]string `json:"tags,omitempty"`
}

type ECS struct {
	ClusterName       string `json:"clusterName,omitempty"`
	ClusterArn        string `json:"clusterArn,omitempty"`
	TaskArn           string `json:"taskArn,omitempty"`
	TaskDefinitionArn string `json:"taskDefinitionArn,omitempty"`
	LaunchType        string `json:"launchType,omitempty"`
}

type Container struct {
	ID         string `json:"id,omitempty"`
	Name       string `json:"name,omitempty"`
	Image      string `json:"image,omitempty"`
	Privileged bool   `json:"privileged,omitempty"`
}
