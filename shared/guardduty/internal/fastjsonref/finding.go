// Package fastjsonref is shared/guardduty's decoder as it was before the scanning decoder (commit
// 65c5731, built on github.com/valyala/fastjson), kept verbatim only so the differential test and fuzz
// target can hold the new decoder to its behaviour. Nothing else may import it.
package fastjsonref

// Finding is a GuardDuty finding (the `detail` of a "GuardDuty Finding" event).
type Finding struct {
	SchemaVersion string   `json:"schemaVersion,omitempty"`
	AccountID     string   `json:"accountId"`
	Region        string   `json:"region"`
	Partition     string   `json:"partition,omitempty"`
	ID            string   `json:"id"`
	Arn           string   `json:"arn,omitempty"`
	Type          string   `json:"type"`
	Title         string   `json:"title,omitempty"`
	Description   string   `json:"description,omitempty"`
	Severity      float64  `json:"severity"`
	CreatedAt     string   `json:"createdAt,omitempty"`
	UpdatedAt     string   `json:"updatedAt,omitempty"`
	Resource      Resource `json:"resource"`
	Service       Service  `json:"service"`
}

// Resource is the affected resource; ResourceType selects which blocks are meaningful, but sample
// findings carry placeholder blocks of other kinds too.
type Resource struct {
	ResourceType         string                `json:"resourceType"`
	InstanceDetails      *InstanceDetails      `json:"instanceDetails,omitempty"`
	AccessKeyDetails     *AccessKeyDetails     `json:"accessKeyDetails,omitempty"`
	S3BucketDetails      []S3BucketDetail      `json:"s3BucketDetails,omitempty"`
	EksClusterDetails    *EksClusterDetails    `json:"eksClusterDetails,omitempty"`
	KubernetesDetails    *KubernetesDetails    `json:"kubernetesDetails,omitempty"`
	RdsDbInstanceDetails *RdsDbInstanceDetails `json:"rdsDbInstanceDetails,omitempty"`
	RdsDbUserDetails     *RdsDbUserDetails     `json:"rdsDbUserDetails,omitempty"`
	LambdaDetails        *LambdaDetails        `json:"lambdaDetails,omitempty"`
	EcsClusterDetails    *EcsClusterDetails    `json:"ecsClusterDetails,omitempty"`
	ContainerDetails     *Container            `json:"containerDetails,omitempty"`
}

type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type InstanceDetails struct {
	InstanceID         string              `json:"instanceId"`
	InstanceState      string              `json:"instanceState,omitempty"`
	InstanceType       string              `json:"instanceType,omitempty"`
	AvailabilityZone   string              `json:"availabilityZone,omitempty"`
	ImageID            string              `json:"imageId,omitempty"`
	Platform           string              `json:"platform,omitempty"`
	IamInstanceProfile *IamInstanceProfile `json:"iamInstanceProfile,omitempty"`
	NetworkInterfaces  []NetworkInterface  `json:"networkInterfaces,omitempty"`
	Tags               []Tag               `json:"tags,omitempty"`
}

type IamInstanceProfile struct {
	Arn string `json:"arn,omitempty"`
	ID  string `json:"id,omitempty"`
}

type NetworkInterface struct {
	NetworkInterfaceID string          `json:"networkInterfaceId"`
	SubnetID           string          `json:"subnetId,omitempty"`
	VpcID              string          `json:"vpcId,omitempty"`
	PrivateIPAddress   string          `json:"privateIpAddress,omitempty"`
	PublicIP           string          `json:"publicIp,omitempty"`
	SecurityGroups     []SecurityGroup `json:"securityGroups,omitempty"`
}

type SecurityGroup struct {
	GroupID   string `json:"groupId"`
	GroupName string `json:"groupName,omitempty"`
}

type AccessKeyDetails struct {
	AccessKeyID string `json:"accessKeyId,omitempty"`
	PrincipalID string `json:"principalId,omitempty"`
	UserName    string `json:"userName,omitempty"`
	UserType    string `json:"userType,omitempty"`
}

type S3BucketDetail struct {
	Arn          string        `json:"arn,omitempty"`
	Name         string        `json:"name"`
	Type         string        `json:"type,omitempty"`
	PublicAccess *PublicAccess `json:"publicAccess,omitempty"`
	Tags         []Tag         `json:"tags,omitempty"`
	// S3ObjectDetails are the objects a Malware Protection for S3 scan found malicious.
	S3ObjectDetails []S3ObjectDetail `json:"s3ObjectDetails,omitempty"`
}

// S3ObjectDetail is one scanned object (resource type S3Object).
type S3ObjectDetail struct {
	ObjectArn string `json:"objectArn,omitempty"`
	Key       string `json:"key,omitempty"`
	ETag      string `json:"eTag,omitempty"`
	Hash      string `json:"hash,omitempty"`
	VersionID string `json:"versionId,omitempty"`
}

type PublicAccess struct {
	EffectivePermission string `json:"effectivePermission,omitempty"`
}

type EksClusterDetails struct {
	Name   string `json:"name"`
	Arn    string `json:"arn,omitempty"`
	VpcID  string `json:"vpcId,omitempty"`
	Status string `json:"status,omitempty"`
	Tags   []Tag  `json:"tags,omitempty"`
}

type KubernetesDetails struct {
	KubernetesUserDetails     *KubernetesUserDetails     `json:"kubernetesUserDetails,omitempty"`
	KubernetesWorkloadDetails *KubernetesWorkloadDetails `json:"kubernetesWorkloadDetails,omitempty"`
}

type KubernetesUserDetails struct {
	Username string   `json:"username,omitempty"`
	UID      string   `json:"uid,omitempty"`
	Groups   []string `json:"groups,omitempty"`
}

type KubernetesWorkloadDetails struct {
	Name       string      `json:"name,omitempty"`
	Namespace  string      `json:"namespace,omitempty"`
	Type       string      `json:"type,omitempty"`
	UID        string      `json:"uid,omitempty"`
	Containers []Container `json:"containers,omitempty"`
}

// Container is a container of a Kubernetes workload, an ECS task or a Runtime Monitoring finding.
type Container struct {
	ID               string           `json:"id,omitempty"`
	Name             string           `json:"name,omitempty"`
	Image            string           `json:"image,omitempty"`
	ContainerRuntime string           `json:"containerRuntime,omitempty"`
	SecurityContext  *SecurityContext `json:"securityContext,omitempty"`
}

type SecurityContext struct {
	Privileged bool `json:"privileged,omitempty"`
}

type RdsDbInstanceDetails struct {
	DbInstanceIdentifier string `json:"dbInstanceIdentifier,omitempty"`
	DbClusterIdentifier  string `json:"dbClusterIdentifier,omitempty"`
	DbInstanceArn        string `json:"dbInstanceArn,omitempty"`
	Engine               string `json:"engine,omitempty"`
	EngineVersion        string `json:"engineVersion,omitempty"`
	Tags                 []Tag  `json:"tags,omitempty"`
}

type RdsDbUserDetails struct {
	User        string `json:"user,omitempty"`
	Database    string `json:"database,omitempty"`
	Application string `json:"application,omitempty"`
	AuthMethod  string `json:"authMethod,omitempty"`
}

type LambdaDetails struct {
	FunctionArn     string     `json:"functionArn,omitempty"`
	FunctionName    string     `json:"functionName,omitempty"`
	FunctionVersion string     `json:"functionVersion,omitempty"`
	Role            string     `json:"role,omitempty"`
	VpcConfig       *VpcConfig `json:"vpcConfig,omitempty"`
	Tags            []Tag      `json:"tags,omitempty"`
}

type VpcConfig struct {
	VpcID          string          `json:"vpcId,omitempty"`
	SubnetIDs      []string        `json:"subnetIds,omitempty"`
	SecurityGroups []SecurityGroup `json:"securityGroups,omitempty"`
}

type EcsClusterDetails struct {
	Name        string          `json:"name,omitempty"`
	Arn         string          `json:"arn,omitempty"`
	TaskDetails *EcsTaskDetails `json:"taskDetails,omitempty"`
}

type EcsTaskDetails struct {
	Arn           string      `json:"arn,omitempty"`
	DefinitionArn string      `json:"definitionArn,omitempty"`
	LaunchType    string      `json:"launchType,omitempty"`
	Containers    []Container `json:"containers,omitempty"`
}

// Service is GuardDuty's own view of the finding: occurrence, archive state, the observed action.
type Service struct {
	Action         *Action         `json:"action,omitempty"`
	AdditionalInfo *AdditionalInfo `json:"additionalInfo,omitempty"`
	Archived       bool            `json:"archived"`
	Count          int64           `json:"count"`
	DetectorID     string          `json:"detectorId,omitempty"`
	EventFirstSeen string          `json:"eventFirstSeen,omitempty"`
	EventLastSeen  string          `json:"eventLastSeen,omitempty"`
	ResourceRole   string          `json:"resourceRole,omitempty"`
	ServiceName    string          `json:"serviceName,omitempty"`
	FeatureName    string          `json:"featureName,omitempty"`
	// Detection holds an attack sequence's members (AttackSequence:*).
	Detection *Detection `json:"detection,omitempty"`
	// MalwareScanDetails are the threats a Malware Protection scan found (Object:S3/MaliciousFile).
	MalwareScanDetails *MalwareScanDetails `json:"malwareScanDetails,omitempty"`
}

type MalwareScanDetails struct {
	ScanID            string   `json:"scanId,omitempty"`
	ScanType          string   `json:"scanType,omitempty"`
	ScanCategory      string   `json:"scanCategory,omitempty"`
	UniqueThreatCount int64    `json:"uniqueThreatCount,omitempty"`
	Threats           []Threat `json:"threats,omitempty"`
}

type Threat struct {
	Name        string       `json:"name,omitempty"`
	Source      string       `json:"source,omitempty"`
	Hash        string       `json:"hash,omitempty"`
	Count       int64        `json:"count,omitempty"`
	ItemPaths   []ItemPath   `json:"itemPaths,omitempty"`
	ItemDetails []ItemDetail `json:"itemDetails,omitempty"`
}

type ItemPath struct {
	NestedItemPath string `json:"nestedItemPath,omitempty"`
	Hash           string `json:"hash,omitempty"`
}

type ItemDetail struct {
	ResourceArn string `json:"resourceArn,omitempty"`
	ItemPath    string `json:"itemPath,omitempty"`
	Hash        string `json:"hash,omitempty"`
	// VersionID is additionalInfo.versionId: the S3 object version the threat was found in.
	VersionID string `json:"versionId,omitempty"`
}

// AdditionalInfo is free-form in events; only the sample marker matters for remediation.
type AdditionalInfo struct {
	Sample bool `json:"sample,omitempty"`
}

type Action struct {
	ActionType              string                   `json:"actionType,omitempty"`
	AwsAPICallAction        *AwsAPICallAction        `json:"awsApiCallAction,omitempty"`
	DNSRequestAction        *DNSRequestAction        `json:"dnsRequestAction,omitempty"`
	NetworkConnectionAction *NetworkConnectionAction `json:"networkConnectionAction,omitempty"`
	PortProbeAction         *PortProbeAction         `json:"portProbeAction,omitempty"`
	KubernetesAPICallAction *KubernetesAPICallAction `json:"kubernetesApiCallAction,omitempty"`
	RdsLoginAttemptAction   *RdsLoginAttemptAction   `json:"rdsLoginAttemptAction,omitempty"`
}

type AwsAPICallAction struct {
	API         string `json:"api,omitempty"`
	ServiceName string `json:"serviceName,omitempty"`
	CallerType  string `json:"callerType,omitempty"`
	// AffectedResources maps a CloudFormation resource type to the name or ARN the call acted on.
	AffectedResources    map[string]string     `json:"affectedResources,omitempty"`
	RemoteIPDetails      *RemoteIPDetails      `json:"remoteIpDetails,omitempty"`
	RemoteAccountDetails *RemoteAccountDetails `json:"remoteAccountDetails,omitempty"`
}

type RemoteAccountDetails struct {
	AccountID  string `json:"accountId,omitempty"`
	Affiliated bool   `json:"affiliated,omitempty"`
}

type DNSRequestAction struct {
	Domain   string `json:"domain,omitempty"`
	Protocol string `json:"protocol,omitempty"`
	Blocked  bool   `json:"blocked,omitempty"`
}

type NetworkConnectionAction struct {
	ConnectionDirection   string           `json:"connectionDirection,omitempty"`
	Protocol              string           `json:"protocol,omitempty"`
	Blocked               bool             `json:"blocked,omitempty"`
	LocalNetworkInterface string           `json:"localNetworkInterface,omitempty"`
	LocalPortDetails      *PortDetails     `json:"localPortDetails,omitempty"`
	RemotePortDetails     *PortDetails     `json:"remotePortDetails,omitempty"`
	RemoteIPDetails       *RemoteIPDetails `json:"remoteIpDetails,omitempty"`
}

type PortProbeAction struct {
	Blocked          bool              `json:"blocked,omitempty"`
	PortProbeDetails []PortProbeDetail `json:"portProbeDetails,omitempty"`
}

type PortProbeDetail struct {
	LocalPortDetails *PortDetails     `json:"localPortDetails,omitempty"`
	RemoteIPDetails  *RemoteIPDetails `json:"remoteIpDetails,omitempty"`
}

type KubernetesAPICallAction struct {
	RequestURI      string           `json:"requestUri,omitempty"`
	Verb            string           `json:"verb,omitempty"`
	SourceIPs       []string         `json:"sourceIPs,omitempty"`
	StatusCode      int              `json:"statusCode,omitempty"`
	RemoteIPDetails *RemoteIPDetails `json:"remoteIpDetails,omitempty"`
}

type RdsLoginAttemptAction struct {
	RemoteIPDetails *RemoteIPDetails `json:"remoteIpDetails,omitempty"`
}

type PortDetails struct {
	Port     int    `json:"port,omitempty"`
	PortName string `json:"portName,omitempty"`
}

type RemoteIPDetails struct {
	IPAddressV4  string        `json:"ipAddressV4,omitempty"`
	IPAddressV6  string        `json:"ipAddressV6,omitempty"`
	Country      *Country      `json:"country,omitempty"`
	Organization *Organization `json:"organization,omitempty"`
}

type Country struct {
	CountryName string `json:"countryName,omitempty"`
}

// Organization omits asn: old events carry it as a number, the model as a string, and nothing uses it.
type Organization struct {
	AsnOrg string `json:"asnOrg,omitempty"`
	Isp    string `json:"isp,omitempty"`
	Org    string `json:"org,omitempty"`
}

// Detection is service.detection; only the attack sequence is modelled.
type Detection struct {
	Sequence *Sequence `json:"sequence,omitempty"`
}

// Sequence is an Extended Threat Detection attack sequence: the resources, signals, actors and
// endpoints it ties together (API model shapes Sequence, ResourceV2, Signal, Actor, NetworkEndpoint).
type Sequence struct {
	UID         string             `json:"uid,omitempty"`
	Description string             `json:"description,omitempty"`
	Resources   []SequenceResource `json:"resources,omitempty"`
	Signals     []Signal           `json:"signals,omitempty"`
	Actors      []Actor            `json:"actors,omitempty"`
	Endpoints   []NetworkEndpoint  `json:"endpoints,omitempty"`
}

type SequenceResource struct {
	UID            string `json:"uid,omitempty"`
	Name           string `json:"name,omitempty"`
	AccountID      string `json:"accountId,omitempty"`
	ResourceType   string `json:"resourceType,omitempty"`
	Region         string `json:"region,omitempty"`
	Service        string `json:"service,omitempty"`
	CloudPartition string `json:"cloudPartition,omitempty"`
}

type Signal struct {
	UID          string   `json:"uid,omitempty"`
	Type         string   `json:"type,omitempty"`
	Name         string   `json:"name,omitempty"`
	Severity     float64  `json:"severity,omitempty"`
	Count        int64    `json:"count,omitempty"`
	ResourceUIDs []string `json:"resourceUids,omitempty"`
	ActorIDs     []string `json:"actorIds,omitempty"`
}

type Actor struct {
	ID      string        `json:"id,omitempty"`
	User    *ActorUser    `json:"user,omitempty"`
	Session *ActorSession `json:"session,omitempty"`
}

type ActorUser struct {
	Name          string `json:"name,omitempty"`
	UID           string `json:"uid,omitempty"`
	Type          string `json:"type,omitempty"`
	CredentialUID string `json:"credentialUid,omitempty"`
	AccountUID    string `json:"accountUid,omitempty"`
}

type ActorSession struct {
	UID       string `json:"uid,omitempty"`
	MfaStatus string `json:"mfaStatus,omitempty"`
	Issuer    string `json:"issuer,omitempty"`
}

type NetworkEndpoint struct {
	ID     string `json:"id,omitempty"`
	IP     string `json:"ip,omitempty"`
	Domain string `json:"domain,omitempty"`
	Port   int64  `json:"port,omitempty"`
}
