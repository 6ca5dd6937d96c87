package guardduty

import (
	"bytes"
	"net/netip"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/guardbots/guardbots/shared/faults"
)

// Bounds on what we keep. Everything is attacker-influenced somewhere (tags, names, user agents), and a
// real finding stays far below these, so a longer value is rejected rather than carried to every step.
const (
	maxID     = 256  // ids, names, types, enums
	maxARN    = 2048 // IAM's ARN limit
	maxText   = 4096 // title, description, image names
	maxList   = 256  // entries of any list we keep
	maxTags   = 50   // AWS's per-resource tag limit
	maxTagKey = 128  // AWS tag key limit (characters)
	maxTagVal = 256  // AWS tag value limit (characters)
	maxKey    = 1024 // S3's object key limit (bytes)
)

// decodeFinding copies the modelled members of a GuardDuty finding object and validates it; path is
// where the object sits ("detail." for an EventBridge event) so messages name the field as sent. pascal
// reads the PascalCase member names the AWS CLI prints (get-findings) instead of the API's camelCase.
func decodeFinding(v value, path string, pascal bool) (*Finding, error) {
	d := decoder{path: path, pascal: pascal}
	f := &Finding{
		SchemaVersion: d.str(v, "schemaVersion", maxID),
		AccountID:     d.str(v, "accountId", maxID),
		Region:        d.str(v, "region", maxID),
		Partition:     d.str(v, "partition", maxID),
		ID:            d.str(v, "id", maxID),
		Arn:           d.str(v, "arn", maxARN),
		Type:          d.str(v, "type", maxID),
		Title:         d.str(v, "title", maxText),
		Description:   d.str(v, "description", maxText),
		Severity:      d.num(v, "severity"),
		CreatedAt:     d.str(v, "createdAt", maxID),
		UpdatedAt:     d.str(v, "updatedAt", maxID),
	}
	if r := d.obj(v, "resource"); r.exists() {
		f.Resource = d.resource(r)
	}
	if s := d.obj(v, "service"); s.exists() {
		f.Service = d.service(s)
	}
	if d.err != nil {
		return nil, d.err
	}
	if err := Validate(f, path); err != nil {
		return nil, err
	}
	return f, nil
}

// decoder reads members of a scanned document, remembering the first bound or type violation. Members we
// keep but that have an unexpected JSON type (null, a number for a string) read as absent: old and
// sample findings carry nulls and numbers where the model says string, and nothing we keep depends on it.
type decoder struct {
	path string
	// keys is the current sub-path inside the finding (resource, instanceDetails, …), joined only when a
	// message needs it so the happy path allocates nothing for it.
	keys  [12]string
	n     int
	err   error
	arena []byte
	// pascal reads the API model's member names: the GuardDuty names with a capital, as the AWS CLI
	// prints a finding and as ASFF's Action holds them.
	pascal bool
}

func (d *decoder) k(key string) string {
	if !d.pascal || key == "" || key[0] < 'a' || key[0] > 'z' {
		return key
	}
	// The one member read here whose model name is not its wire name with a capital.
	if key == "sourceIPs" {
		return "SourceIps"
	}
	return string(key[0]-'a'+'A') + key[1:]
}

func (d *decoder) failf(format string, args ...any) {
	if d.err == nil {
		d.err = faults.Rejectf(format, args...)
	}
}

func (d *decoder) field(key string) string {
	k := min(d.n, len(d.keys))
	return strings.TrimSuffix(d.path+strings.Join(append(d.keys[:k:k], d.k(key)), "."), ".")
}

func (d *decoder) str(v value, key string, max int) string {
	b, ok := v.get(d.k(key)).str()
	if !ok {
		return ""
	}
	if len(b) > max {
		d.failf("%s is %d bytes long, over the %d-byte limit for this field", d.field(key), len(b), max)
		return ""
	}
	return d.keep(b)
}

// keep copies b into the decoder's arena and returns it as a string: one allocation per few KB instead
// of one per field (a 9 KB finding keeps ~100 strings; the allocations were a tenth of parse time and
// fed the GC). The arena is only ever appended to, so the bytes behind a returned string never change;
// a full arena is replaced, not reused, and stays alive while any of its strings does.
func (d *decoder) keep(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if cap(d.arena)-len(d.arena) < len(b) {
		// The first holds what most findings keep (1.4 KB median, 3 KB at most in the corpus).
		size := 4096
		if d.arena == nil {
			size = 2048
		}
		d.arena = make([]byte, 0, max(size, len(b)))
	}
	start := len(d.arena)
	d.arena = append(d.arena, b...)
	return unsafe.String(&d.arena[start], len(b))
}

func (d *decoder) num(v value, key string) float64 {
	x := v.get(d.k(key))
	if x.typ() != typeNumber {
		return 0
	}
	n, _ := x.float()
	return n
}

func (d *decoder) int(v value, key string) int64 {
	x := v.get(d.k(key))
	if x.typ() != typeNumber {
		return 0
	}
	n, err := x.int()
	if err != nil {
		f, _ := x.float()
		return int64(f)
	}
	return n
}

func (d *decoder) bool(v value, key string) bool {
	return v.get(d.k(key)).typ() == typeTrue
}

// obj is the object member key, or an absent value when it is missing or not an object.
func (d *decoder) obj(v value, key string) value {
	x := v.get(d.k(key))
	if x.typ() != typeObject {
		return value{}
	}
	return x
}

// arr is the array member key, or an empty list when it is missing or not an array.
func (d *decoder) arr(v value, key string) list {
	a, _ := v.get(d.k(key)).array()
	if a.len() > maxList {
		d.failf("%s has %d entries, over the limit of %d", d.field(key), a.len(), maxList)
		return list{}
	}
	return a
}

// ip reads an address a bot may block: it must parse, so a forged value never reaches a NACL or WAF.
func (d *decoder) ip(v value, key string) string {
	s := d.str(v, key, maxID)
	if s == "" {
		return ""
	}
	if _, err := netip.ParseAddr(s); err != nil {
		d.failf("%s %q is not an IP address", d.field(key), clip(s, 64))
		return ""
	}
	return s
}

func (d *decoder) tags(v value, key string) []Tag {
	a := d.arr(v, key)
	if a.len() == 0 {
		return nil
	}
	if a.len() > maxTags {
		d.failf("%s has %d tags; AWS allows %d", d.field(key), a.len(), maxTags)
		return nil
	}
	out := make([]Tag, 0, a.len())
	kk, vk := d.k("key"), d.k("value")
	for it := a.iter(); it.next(); {
		t := it.v
		kb, vb := t.getStr(kk), t.getStr(vk)
		k, val := d.keep(kb), d.keep(vb)
		if utf8.RuneCountInString(k) > maxTagKey || utf8.RuneCountInString(val) > maxTagVal {
			d.failf("%s has a tag longer than AWS allows (key %d, value %d characters): %q", d.field(key), maxTagKey, maxTagVal, clip(k, 64))
			return nil
		}
		if k == "" {
			continue
		}
		out = append(out, Tag{Key: k, Value: val})
	}
	return out
}

// in runs fn with the sub-path extended by key, for messages.
func (d *decoder) in(key string, fn func()) {
	if d.n < len(d.keys) {
		d.keys[d.n] = d.k(key)
	}
	d.n++
	fn()
	d.n--
}

func (d *decoder) resource(r value) (res Resource) {
	d.in("resource", func() {
		res.ResourceType = d.str(r, "resourceType", maxID)
		if x := d.obj(r, "instanceDetails"); x.exists() {
			d.in("instanceDetails", func() { res.InstanceDetails = d.instance(x) })
		}
		if x := d.obj(r, "accessKeyDetails"); x.exists() {
			d.in("accessKeyDetails", func() {
				res.AccessKeyDetails = &AccessKeyDetails{
					AccessKeyID: d.str(x, "accessKeyId", maxID),
					PrincipalID: d.str(x, "principalId", maxID),
					UserName:    d.str(x, "userName", maxID),
					UserType:    d.str(x, "userType", maxID),
				}
			})
		}
		for it := d.arr(r, "s3BucketDetails").iter(); it.next(); {
			b := it.v
			d.in("s3BucketDetails[]", func() {
				sb := S3BucketDetail{
					Arn:  d.str(b, "arn", maxARN),
					Name: d.str(b, "name", maxID),
					Type: d.str(b, "type", maxID),
					Tags: d.tags(b, "tags"),
				}
				if pa := d.obj(b, "publicAccess"); pa.exists() {
					sb.PublicAccess = &PublicAccess{EffectivePermission: d.str(pa, "effectivePermission", maxID)}
				}
				d.in("s3ObjectDetails[]", func() {
					for it := d.arr(b, "s3ObjectDetails").iter(); it.next(); {
						o := it.v
						sb.S3ObjectDetails = append(sb.S3ObjectDetails, S3ObjectDetail{
							ObjectArn: d.str(o, "objectArn", maxARN),
							Key:       d.str(o, "key", maxKey),
							ETag:      d.str(o, "eTag", maxID),
							Hash:      d.str(o, "hash", maxID),
							VersionID: d.str(o, "versionId", maxKey),
						})
					}
				})
				res.S3BucketDetails = append(res.S3BucketDetails, sb)
			})
		}
		if x := d.obj(r, "eksClusterDetails"); x.exists() {
			d.in("eksClusterDetails", func() {
				res.EksClusterDetails = &EksClusterDetails{
					Name:   d.str(x, "name", maxID),
					Arn:    d.str(x, "arn", maxARN),
					VpcID:  d.str(x, "vpcId", maxID),
					Status: d.str(x, "status", maxID),
					Tags:   d.tags(x, "tags"),
				}
			})
		}
		if x := d.obj(r, "kubernetesDetails"); x.exists() {
			d.in("kubernetesDetails", func() { res.KubernetesDetails = d.kubernetes(x) })
		}
		if x := d.obj(r, "rdsDbInstanceDetails"); x.exists() {
			d.in("rdsDbInstanceDetails", func() {
				res.RdsDbInstanceDetails = &RdsDbInstanceDetails{
					DbInstanceIdentifier: d.str(x, "dbInstanceIdentifier", maxID),
					DbClusterIdentifier:  d.str(x, "dbClusterIdentifier", maxID),
					DbInstanceArn:        d.str(x, "dbInstanceArn", maxARN),
					Engine:               d.str(x, "engine", maxID),
					EngineVersion:        d.str(x, "engineVersion", maxID),
					Tags:                 d.tags(x, "tags"),
				}
			})
		}
		if x := d.obj(r, "rdsDbUserDetails"); x.exists() {
			d.in("rdsDbUserDetails", func() {
				res.RdsDbUserDetails = &RdsDbUserDetails{
					User:        d.str(x, "user", maxID),
					Database:    d.str(x, "database", maxID),
					Application: d.str(x, "application", maxID),
					AuthMethod:  d.str(x, "authMethod", maxID),
				}
			})
		}
		if x := d.obj(r, "lambdaDetails"); x.exists() {
			d.in("lambdaDetails", func() { res.LambdaDetails = d.lambda(x) })
		}
		if x := d.obj(r, "ecsClusterDetails"); x.exists() {
			d.in("ecsClusterDetails", func() { res.EcsClusterDetails = d.ecs(x) })
		}
		if x := d.obj(r, "containerDetails"); x.exists() {
			d.in("containerDetails", func() {
				c := d.container(x)
				res.ContainerDetails = &c
			})
		}
	})
	return res
}

func (d *decoder) instance(x value) *InstanceDetails {
	in := &InstanceDetails{
		InstanceID:       d.str(x, "instanceId", maxID),
		InstanceState:    d.str(x, "instanceState", maxID),
		InstanceType:     d.str(x, "instanceType", maxID),
		AvailabilityZone: d.str(x, "availabilityZone", maxID),
		ImageID:          d.str(x, "imageId", maxID),
		Platform:         d.str(x, "platform", maxID),
		Tags:             d.tags(x, "tags"),
	}
	if p := d.obj(x, "iamInstanceProfile"); p.exists() {
		d.in("iamInstanceProfile", func() {
			in.IamInstanceProfile = &IamInstanceProfile{Arn: d.str(p, "arn", maxARN), ID: d.str(p, "id", maxID)}
		})
	}
	if nis := d.arr(x, "networkInterfaces"); nis.len() > 0 {
		in.NetworkInterfaces = make([]NetworkInterface, 0, nis.len())
		d.in("networkInterfaces[]", func() {
			for it := nis.iter(); it.next(); {
				n := it.v
				ni := NetworkInterface{
					NetworkInterfaceID: d.str(n, "networkInterfaceId", maxID),
					SubnetID:           d.str(n, "subnetId", maxID),
					VpcID:              d.str(n, "vpcId", maxID),
					PrivateIPAddress:   d.str(n, "privateIpAddress", maxID),
					PublicIP:           d.str(n, "publicIp", maxID),
				}
				d.in("securityGroups[]", func() {
					for it := d.arr(n, "securityGroups").iter(); it.next(); {
						sg := it.v
						ni.SecurityGroups = append(ni.SecurityGroups, SecurityGroup{
							GroupID:   d.str(sg, "groupId", maxID),
							GroupName: d.str(sg, "groupName", maxID),
						})
					}
				})
				in.NetworkInterfaces = append(in.NetworkInterfaces, ni)
			}
		})
	}
	return in
}

func (d *decoder) kubernetes(x value) *KubernetesDetails {
	k := &KubernetesDetails{}
	if u := d.obj(x, "kubernetesUserDetails"); u.exists() {
		d.in("kubernetesUserDetails", func() {
			k.KubernetesUserDetails = &KubernetesUserDetails{
				Username: d.str(u, "username", maxID),
				UID:      d.str(u, "uid", maxID),
			}
			d.in("groups[]", func() {
				for it := d.arr(u, "groups").iter(); it.next(); {
					g := it.v
					if b, _ := g.str(); len(b) > maxID {
						d.failf("%s is %d bytes long, over the %d-byte limit", d.field(""), len(b), maxID)
					} else if len(b) > 0 {
						k.KubernetesUserDetails.Groups = append(k.KubernetesUserDetails.Groups, d.keep(b))
					}
				}
			})
		})
	}
	if w := d.obj(x, "kubernetesWorkloadDetails"); w.exists() {
		d.in("kubernetesWorkloadDetails", func() {
			k.KubernetesWorkloadDetails = &KubernetesWorkloadDetails{
				Name:       d.str(w, "name", maxID),
				Namespace:  d.str(w, "namespace", maxID),
				Type:       d.str(w, "type", maxID),
				UID:        d.str(w, "uid", maxID),
				Containers: d.containers(w, "containers"),
			}
		})
	}
	return k
}

func (d *decoder) containers(v value, key string) []Container {
	a := d.arr(v, key)
	if a.len() == 0 {
		return nil
	}
	out := make([]Container, 0, a.len())
	d.in(key+"[]", func() {
		for it := a.iter(); it.next(); {
			c := it.v
			out = append(out, d.container(c))
		}
	})
	return out
}

func (d *decoder) container(c value) Container {
	ct := Container{
		ID:               d.str(c, "id", maxID),
		Name:             d.str(c, "name", maxID),
		Image:            d.str(c, "image", maxText),
		ContainerRuntime: d.str(c, "containerRuntime", maxID),
	}
	if sc := d.obj(c, "securityContext"); sc.exists() {
		ct.SecurityContext = &SecurityContext{Privileged: d.bool(sc, "privileged")}
	}
	return ct
}

func (d *decoder) lambda(x value) *LambdaDetails {
	l := &LambdaDetails{
		FunctionArn:     d.str(x, "functionArn", maxARN),
		FunctionName:    d.str(x, "functionName", maxID),
		FunctionVersion: d.str(x, "functionVersion", maxID),
		Role:            d.str(x, "role", maxARN),
		Tags:            d.tags(x, "tags"),
	}
	if vc := d.obj(x, "vpcConfig"); vc.exists() {
		d.in("vpcConfig", func() {
			l.VpcConfig = &VpcConfig{VpcID: d.str(vc, "vpcId", maxID)}
			d.in("subnetIds[]", func() {
				for it := d.arr(vc, "subnetIds").iter(); it.next(); {
					s := it.v
					if b, _ := s.str(); len(b) > 0 && len(b) <= maxID {
						l.VpcConfig.SubnetIDs = append(l.VpcConfig.SubnetIDs, d.keep(b))
					}
				}
			})
			d.in("securityGroups[]", func() {
				for it := d.arr(vc, "securityGroups").iter(); it.next(); {
					sg := it.v
					l.VpcConfig.SecurityGroups = append(l.VpcConfig.SecurityGroups, SecurityGroup{
						GroupID:   d.str(sg, "groupId", maxID),
						GroupName: d.str(sg, "groupName", maxID),
					})
				}
			})
		})
	}
	return l
}

func (d *decoder) ecs(x value) *EcsClusterDetails {
	e := &EcsClusterDetails{Name: d.str(x, "name", maxID), Arn: d.str(x, "arn", maxARN)}
	if t := d.obj(x, "taskDetails"); t.exists() {
		d.in("taskDetails", func() {
			e.TaskDetails = &EcsTaskDetails{
				Arn:           d.str(t, "arn", maxARN),
				DefinitionArn: d.str(t, "definitionArn", maxARN),
				LaunchType:    d.str(t, "launchType", maxID),
				Containers:    d.containers(t, "containers"),
			}
		})
	}
	return e
}

func (d *decoder) service(s value) (svc Service) {
	d.in("service", func() {
		svc = Service{
			Archived:       d.bool(s, "archived"),
			Count:          d.int(s, "count"),
			DetectorID:     d.str(s, "detectorId", maxID),
			EventFirstSeen: d.str(s, "eventFirstSeen", maxID),
			EventLastSeen:  d.str(s, "eventLastSeen", maxID),
			ResourceRole:   d.str(s, "resourceRole", maxID),
			ServiceName:    d.str(s, "serviceName", maxID),
			FeatureName:    d.str(s, "featureName", maxID),
		}
		if ai := d.obj(s, "additionalInfo"); ai.exists() {
			svc.AdditionalInfo = &AdditionalInfo{Sample: d.sample(ai)}
		}
		if a := d.obj(s, "action"); a.exists() {
			d.in("action", func() { svc.Action = d.action(a) })
		}
		if x := d.obj(s, "detection"); x.exists() {
			d.in("detection", func() {
				if q := d.obj(x, "sequence"); q.exists() {
					d.in("sequence", func() { svc.Detection = &Detection{Sequence: d.sequence(q)} })
				}
			})
		}
		if m := d.obj(s, "malwareScanDetails"); m.exists() {
			d.in("malwareScanDetails", func() { svc.MalwareScanDetails = d.malwareScan(m) })
		}
	})
	return svc
}

// malwareScan reads the threats of a Malware Protection scan: names and hashes for the notification,
// and each item's object version, which transform checks against the object the finding names.
// sequence reads an attack sequence's members, each bounded like every other field.
func (d *decoder) sequence(q value) *Sequence {
	out := &Sequence{UID: d.str(q, "uid", maxID), Description: d.str(q, "description", maxText)}
	d.in("resources[]", func() {
		for it := d.arr(q, "resources").iter(); it.next(); {
			r := it.v
			out.Resources = append(out.Resources, SequenceResource{
				UID: d.str(r, "uid", maxARN), Name: d.str(r, "name", maxARN), AccountID: d.str(r, "accountId", maxID),
				ResourceType: d.str(r, "resourceType", maxID), Region: d.str(r, "region", maxID),
				Service: d.str(r, "service", maxID), CloudPartition: d.str(r, "cloudPartition", maxID),
			})
		}
	})
	d.in("signals[]", func() {
		for it := d.arr(q, "signals").iter(); it.next(); {
			g := it.v
			out.Signals = append(out.Signals, Signal{
				UID: d.str(g, "uid", maxARN), Type: d.str(g, "type", maxID), Name: d.str(g, "name", maxID),
				Severity: d.num(g, "severity"), Count: d.int(g, "count"),
				ResourceUIDs: d.strs(g, "resourceUids", maxARN), ActorIDs: d.strs(g, "actorIds", maxID),
			})
		}
	})
	d.in("actors[]", func() {
		for it := d.arr(q, "actors").iter(); it.next(); {
			a := it.v
			act := Actor{ID: d.str(a, "id", maxID)}
			if u := d.obj(a, "user"); u.exists() {
				d.in("user", func() {
					act.User = &ActorUser{Name: d.str(u, "name", maxID), UID: d.str(u, "uid", maxARN), Type: d.str(u, "type", maxID),
						CredentialUID: d.str(u, "credentialUid", maxID)}
					if acc := d.obj(u, "account"); acc.exists() {
						act.User.AccountUID = d.str(acc, "uid", maxID)
					}
				})
			}
			if ss := d.obj(a, "session"); ss.exists() {
				d.in("session", func() {
					act.Session = &ActorSession{UID: d.str(ss, "uid", maxID), MfaStatus: d.str(ss, "mfaStatus", maxID), Issuer: d.str(ss, "issuer", maxARN)}
				})
			}
			out.Actors = append(out.Actors, act)
		}
	})
	d.in("endpoints[]", func() {
		for it := d.arr(q, "endpoints").iter(); it.next(); {
			e := it.v
			out.Endpoints = append(out.Endpoints, NetworkEndpoint{ID: d.str(e, "id", maxID), IP: d.ip(e, "ip"), Domain: d.str(e, "domain", maxText), Port: d.int(e, "port")})
		}
	})
	return out
}

// strs reads a list of strings, each at most max bytes.
func (d *decoder) strs(v value, key string, max int) []string {
	var out []string
	for it := d.arr(v, key).iter(); it.next(); {
		x := it.v
		b, ok := x.str()
		switch {
		case !ok || len(b) == 0:
		case len(b) > max:
			d.failf("%s has an entry %d bytes long, over the %d-byte limit", d.field(key), len(b), max)
		default:
			out = append(out, d.keep(b))
		}
	}
	return out
}

// affected reads affectedResources: CloudFormation resource types ("AWS::CloudTrail::Trail") to the
// resource's name or ARN. Keys are AWS's own, never capitalized: the CLI prints them as the API does.
func (d *decoder) affected(ar value) map[string]string {
	if ar.len() > maxList {
		d.failf("%s has %d entries, over the limit of %d", d.field(""), ar.len(), maxList)
		return nil
	}
	ar.d.repeatedNames(ar)
	var out map[string]string
	for k, v := range ar.members() {
		b, ok := v.str()
		switch {
		case !ok || len(b) == 0:
		case len(k) > maxID || len(b) > maxARN:
			d.failf("%s has an entry longer than allowed: %q", d.field(""), clip(string(k), 64))
		default:
			if out == nil {
				out = map[string]string{}
			}
			out[d.keep(k)] = d.keep(b)
		}
	}
	return out
}

func (d *decoder) malwareScan(m value) *MalwareScanDetails {
	out := &MalwareScanDetails{
		ScanID:            d.str(m, "scanId", maxID),
		ScanType:          d.str(m, "scanType", maxID),
		ScanCategory:      d.str(m, "scanCategory", maxID),
		UniqueThreatCount: d.int(m, "uniqueThreatCount"),
	}
	d.in("threats[]", func() {
		for it := d.arr(m, "threats").iter(); it.next(); {
			t := it.v
			th := Threat{
				Name:   d.str(t, "name", maxID),
				Source: d.str(t, "source", maxID),
				Hash:   d.str(t, "hash", maxID),
				Count:  d.int(t, "count"),
			}
			d.in("itemPaths[]", func() {
				for it := d.arr(t, "itemPaths").iter(); it.next(); {
					p := it.v
					th.ItemPaths = append(th.ItemPaths, ItemPath{NestedItemPath: d.str(p, "nestedItemPath", maxText), Hash: d.str(p, "hash", maxID)})
				}
			})
			d.in("itemDetails[]", func() {
				for it := d.arr(t, "itemDetails").iter(); it.next(); {
					it := it.v
					item := ItemDetail{ResourceArn: d.str(it, "resourceArn", maxARN), ItemPath: d.str(it, "itemPath", maxText), Hash: d.str(it, "hash", maxID)}
					if ai := d.obj(it, "additionalInfo"); ai.exists() {
						item.VersionID = d.str(ai, "versionId", maxKey)
					}
					th.ItemDetails = append(th.ItemDetails, item)
				}
			})
			out.Threats = append(out.Threats, th)
		}
	})
	return out
}

// sample reads additionalInfo.sample; findings from GetFindings carry additionalInfo only as a JSON
// string in "value", so that is read when the parsed key is absent (keys as the finding spells them).
func (d *decoder) sample(ai value) bool {
	if x := ai.get(d.k("sample")); x.exists() {
		return x.typ() == typeTrue
	}
	val := ai.getStr(d.k("value"))
	if len(val) == 0 || !bytes.Contains(val, []byte("sample")) {
		return false
	}
	sample, repeated := sampleIn(val)
	if repeated {
		d.failf("%s holds a JSON object with the member \"sample\" more than once", d.field("additionalInfo."+d.k("value")))
	}
	return sample
}

// sampleIn reads "sample": true from JSON text that is not part of the input document (a string
// holding JSON); repeated is true when "sample" appears twice in its object, which is ambiguous.
func sampleIn(text []byte) (sample, repeated bool) {
	d := getDoc()
	defer putDoc(d)
	if d.scan(text) != "" {
		return false, false
	}
	return d.root().get("sample").typ() == typeTrue, d.dup.key != ""
}

func (d *decoder) action(a value) *Action {
	act := &Action{ActionType: d.str(a, "actionType", maxID)}
	if x := d.obj(a, "awsApiCallAction"); x.exists() {
		d.in("awsApiCallAction", func() {
			act.AwsAPICallAction = &AwsAPICallAction{
				API:             d.str(x, "api", maxID),
				ServiceName:     d.str(x, "serviceName", maxID),
				CallerType:      d.str(x, "callerType", maxID),
				RemoteIPDetails: d.remoteIP(x),
			}
			if ar := d.obj(x, "affectedResources"); ar.exists() {
				d.in("affectedResources", func() { act.AwsAPICallAction.AffectedResources = d.affected(ar) })
			}
			if ra := d.obj(x, "remoteAccountDetails"); ra.exists() {
				d.in("remoteAccountDetails", func() {
					act.AwsAPICallAction.RemoteAccountDetails = &RemoteAccountDetails{
						AccountID:  d.str(ra, "accountId", maxID),
						Affiliated: d.bool(ra, "affiliated"),
					}
				})
			}
		})
	}
	if x := d.obj(a, "dnsRequestAction"); x.exists() {
		d.in("dnsRequestAction", func() {
			act.DNSRequestAction = &DNSRequestAction{
				Domain:   d.str(x, "domain", maxText),
				Protocol: d.str(x, "protocol", maxID),
				Blocked:  d.bool(x, "blocked"),
			}
		})
	}
	if x := d.obj(a, "networkConnectionAction"); x.exists() {
		d.in("networkConnectionAction", func() {
			act.NetworkConnectionAction = &NetworkConnectionAction{
				ConnectionDirection:   d.str(x, "connectionDirection", maxID),
				Protocol:              d.str(x, "protocol", maxID),
				Blocked:               d.bool(x, "blocked"),
				LocalNetworkInterface: d.str(x, "localNetworkInterface", maxID),
				LocalPortDetails:      d.port(x, "localPortDetails"),
				RemotePortDetails:     d.port(x, "remotePortDetails"),
				RemoteIPDetails:       d.remoteIP(x),
			}
		})
	}
	if x := d.obj(a, "portProbeAction"); x.exists() {
		d.in("portProbeAction", func() {
			act.PortProbeAction = &PortProbeAction{Blocked: d.bool(x, "blocked")}
			d.in("portProbeDetails[]", func() {
				for it := d.arr(x, "portProbeDetails").iter(); it.next(); {
					pd := it.v
					act.PortProbeAction.PortProbeDetails = append(act.PortProbeAction.PortProbeDetails, PortProbeDetail{
						LocalPortDetails: d.port(pd, "localPortDetails"),
						RemoteIPDetails:  d.remoteIP(pd),
					})
				}
			})
		})
	}
	if x := d.obj(a, "kubernetesApiCallAction"); x.exists() {
		d.in("kubernetesApiCallAction", func() {
			k := &KubernetesAPICallAction{
				RequestURI:      d.str(x, "requestUri", maxText),
				Verb:            d.str(x, "verb", maxID),
				StatusCode:      int(d.int(x, "statusCode")),
				RemoteIPDetails: d.remoteIP(x),
			}
			for it := d.arr(x, "sourceIPs").iter(); it.next(); {
				s := it.v
				if b, _ := s.str(); len(b) > 0 {
					if _, err := netip.ParseAddr(string(b)); err != nil {
						d.failf("%s %q is not an IP address", d.field("sourceIPs[]"), clip(string(b), 64))
						break
					}
					k.SourceIPs = append(k.SourceIPs, d.keep(b))
				}
			}
			act.KubernetesAPICallAction = k
		})
	}
	if x := d.obj(a, "rdsLoginAttemptAction"); x.exists() {
		d.in("rdsLoginAttemptAction", func() {
			act.RdsLoginAttemptAction = &RdsLoginAttemptAction{RemoteIPDetails: d.remoteIP(x)}
		})
	}
	return act
}

func (d *decoder) port(v value, key string) *PortDetails {
	x := d.obj(v, key)
	if !x.exists() {
		return nil
	}
	var p *PortDetails
	d.in(key, func() {
		p = &PortDetails{Port: int(d.int(x, "port")), PortName: d.str(x, "portName", maxID)}
		if p.Port < 0 || p.Port > 65535 {
			d.failf("%s %d is not a port number", d.field("port"), p.Port)
		}
	})
	return p
}

func (d *decoder) remoteIP(v value) *RemoteIPDetails {
	x := d.obj(v, "remoteIpDetails")
	if !x.exists() {
		return nil
	}
	var r *RemoteIPDetails
	d.in("remoteIpDetails", func() {
		r = &RemoteIPDetails{IPAddressV4: d.ip(x, "ipAddressV4"), IPAddressV6: d.ip(x, "ipAddressV6")}
		if c := d.obj(x, "country"); c.exists() {
			d.in("country", func() { r.Country = &Country{CountryName: d.str(c, "countryName", maxID)} })
		}
		if o := d.obj(x, "organization"); o.exists() {
			d.in("organization", func() {
				r.Organization = &Organization{
					AsnOrg: d.str(o, "asnOrg", maxID),
					Isp:    d.str(o, "isp", maxID),
					Org:    d.str(o, "org", maxID),
				}
			})
		}
	})
	return r
}
