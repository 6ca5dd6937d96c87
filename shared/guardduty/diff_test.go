package guardduty

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fastjson"

	"github.com/guardbots/guardbots/shared/faults"
	ref "github.com/guardbots/guardbots/shared/guardduty/internal/fastjsonref"
)

// The differential test holds the scanning decoder to the fastjson decoder it replaced
// (internal/fastjsonref, verbatim): on every input both accept they must return the same finding, and
// on every input both refuse, the same error. The new decoder is stricter in three ways, each an input
// that is not unambiguous JSON; on those it may refuse what the old one accepted, never the reverse:
//   - JSON syntax is checked fully (fastjson let through control characters and bad escapes in strings
//     and numbers such as 01, 1.2.3, NaN or Inf);
//   - a member the decoder reads that appears twice in its object is refused (fastjson took the first
//     one, or, when one of the names was escaped, whichever an earlier lookup left it to find);
//   - JSON held in a string (the SNS message, additionalInfo's value) is held to the same rules, so a
//     "sample" marker in text that is not JSON is not read.

// unambiguous reports whether text is JSON the old decoder cannot read differently: encoding/json
// accepts it, it nests no deeper than maxDepth, no object repeats a name (names decoded as fastjson
// did), and every string in it that fastjson would parse as JSON is unambiguous too.
func unambiguous(text []byte) bool {
	if !json.Valid(text) || depthOf(text) > maxDepth {
		return false
	}
	var p fastjson.Parser
	v, err := p.ParseBytes(text)
	if err != nil {
		return false
	}
	return unambiguousValue(v, 0)
}

func unambiguousValue(v *fastjson.Value, nested int) bool {
	switch v.Type() {
	case fastjson.TypeObject:
		seen := map[string]bool{}
		ok := true
		v.GetObject().Visit(func(k []byte, x *fastjson.Value) {
			if seen[string(k)] || !unambiguousValue(x, nested) {
				ok = false
			}
			seen[string(k)] = true
		})
		return ok
	case fastjson.TypeArray:
		for _, x := range v.GetArray() {
			if !unambiguousValue(x, nested) {
				return false
			}
		}
	case fastjson.TypeString:
		// Both decodings of the string: fastjson's (values) and encoding/json's (the SNS message).
		loose := v.GetStringBytes()
		raw := v.MarshalTo(nil)
		var strict string
		_ = json.Unmarshal(raw, &strict)
		for _, s := range [][]byte{loose, []byte(strict)} {
			var p fastjson.Parser
			if _, err := p.ParseBytes(s); err == nil && (nested > 3 || !unambiguous(s)) {
				return false
			}
		}
	}
	return true
}

// sameAs compares a new result with the old one field by field (the types are copies, so they are
// walked in parallel by reflection): nil and empty differ, as they would to a later step.
func sameAs(a, b reflect.Value, path string) error {
	if a.Kind() != b.Kind() {
		return fmt.Errorf("%s: kind %s vs %s", path, a.Kind(), b.Kind())
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() != b.IsNil() {
			return fmt.Errorf("%s: nil %v vs %v", path, a.IsNil(), b.IsNil())
		}
		if a.IsNil() {
			return nil
		}
		return sameAs(a.Elem(), b.Elem(), path)
	case reflect.Struct:
		if a.NumField() != b.NumField() {
			return fmt.Errorf("%s: %d fields vs %d", path, a.NumField(), b.NumField())
		}
		if a.Type() == reflect.TypeFor[time.Time]() {
			if !a.Interface().(time.Time).Equal(b.Interface().(time.Time)) {
				return fmt.Errorf("%s: %v vs %v", path, a, b)
			}
			return nil
		}
		for i := range a.NumField() {
			name := a.Type().Field(i).Name
			if b.Type().Field(i).Name != name {
				return fmt.Errorf("%s: field %s vs %s", path, name, b.Type().Field(i).Name)
			}
			if err := sameAs(a.Field(i), b.Field(i), path+"."+name); err != nil {
				return err
			}
		}
	case reflect.Slice:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return fmt.Errorf("%s: nil %v len %d vs nil %v len %d", path, a.IsNil(), a.Len(), b.IsNil(), b.Len())
		}
		for i := range a.Len() {
			if err := sameAs(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return fmt.Errorf("%s: map nil %v len %d vs nil %v len %d", path, a.IsNil(), a.Len(), b.IsNil(), b.Len())
		}
		for _, k := range a.MapKeys() {
			bv := b.MapIndex(k)
			if !bv.IsValid() {
				return fmt.Errorf("%s[%v]: missing", path, k)
			}
			if err := sameAs(a.MapIndex(k), bv, fmt.Sprintf("%s[%v]", path, k)); err != nil {
				return err
			}
		}
	case reflect.Float64:
		// Bit for bit: NaN equals NaN, -0 differs from 0.
		if fmt.Sprint(a.Float()) != fmt.Sprint(b.Float()) || (a.Float() == 0 && fmt.Sprint(1/a.Float()) != fmt.Sprint(1/b.Float())) {
			return fmt.Errorf("%s: %v vs %v", path, a.Float(), b.Float())
		}
	case reflect.String:
		if a.String() != b.String() {
			return fmt.Errorf("%s: %q vs %q", path, a.String(), b.String())
		}
	case reflect.Bool:
		if a.Bool() != b.Bool() {
			return fmt.Errorf("%s: %v vs %v", path, a.Bool(), b.Bool())
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		if a.Int() != b.Int() {
			return fmt.Errorf("%s: %v vs %v", path, a.Int(), b.Int())
		}
	default:
		return fmt.Errorf("%s: cannot compare a %s", path, a.Kind())
	}
	return nil
}

func sameError(newErr, oldErr error) error {
	if newErr.Error() != oldErr.Error() {
		return fmt.Errorf("errors differ:\nnew %q\nold %q", newErr, oldErr)
	}
	var nf, of *faults.Error
	if errors.As(newErr, &nf) != errors.As(oldErr, &of) || nf != nil && nf.Kind != of.Kind {
		return fmt.Errorf("error kinds differ: new %v, old %v", newErr, oldErr)
	}
	return nil
}

// compare runs both decoders on raw; nil when the new one behaves as it must.
func compare(raw []byte) error {
	np, nerr := Parse(raw)
	op, oerr := ref.Parse(raw)
	if unambiguous(raw) {
		switch {
		case nerr != nil && oerr != nil:
			return sameError(nerr, oerr)
		case nerr != nil || oerr != nil:
			return fmt.Errorf("one decoder refused: new %v, old %v", nerr, oerr)
		}
		return sameAs(reflect.ValueOf(np), reflect.ValueOf(op), "Parsed")
	}
	switch {
	case nerr != nil:
		return nil // stricter: refusing is always allowed here
	case oerr != nil:
		return fmt.Errorf("new decoder accepted what the old refused (%v)", oerr)
	}
	// Text that is not JSON is no longer read for the sample marker.
	if np.Finding.Service.AdditionalInfo != nil && op.Finding.Service.AdditionalInfo != nil {
		op.Finding.Service.AdditionalInfo.Sample = np.Finding.Service.AdditionalInfo.Sample
	}
	return sameAs(reflect.ValueOf(np), reflect.ValueOf(op), "Parsed")
}

func compareResponse(body []byte, id string) error {
	nf, nfound, nerr := FindingFromResponse(body, id)
	of, ofound, oerr := ref.FindingFromResponse(body, id)
	if !unambiguous(body) {
		if nerr != nil {
			return nil
		}
		if oerr != nil {
			return fmt.Errorf("new decoder accepted the response the old refused (%v)", oerr)
		}
		if nf != nil && of != nil && nf.Service.AdditionalInfo != nil && of.Service.AdditionalInfo != nil {
			of.Service.AdditionalInfo.Sample = nf.Service.AdditionalInfo.Sample
		}
	}
	if nfound != ofound {
		return fmt.Errorf("found: new %v, old %v (errors %v, %v)", nfound, ofound, nerr, oerr)
	}
	switch {
	case nerr != nil && oerr != nil:
		return sameError(nerr, oerr)
	case nerr != nil || oerr != nil:
		return fmt.Errorf("one refused: new %v, old %v", nerr, oerr)
	}
	return sameAs(reflect.ValueOf(nf), reflect.ValueOf(of), "Finding")
}

// variants wraps an input in every envelope the decoder reads, so each fixture and corpus file is also
// tried as an SNS message (string and object), a bare detail, a GetFindings response and the CLI's.
func variants(raw []byte) map[string][]byte {
	out := map[string][]byte{"as is": raw}
	quoted, _ := json.Marshal(string(raw))
	out["SNS string"] = []byte(`{"Records":[{"EventSource":"aws:sns","Sns":{"Message":` + string(quoted) + `}}]}`)
	out["SNS object"] = []byte(`{"Records":[{"Sns":{"Message":` + string(raw) + `}}]}`)
	var p fastjson.Parser
	if v, err := p.ParseBytes(raw); err == nil {
		if d := v.Get("detail"); d != nil {
			det := d.MarshalTo(nil)
			out["bare detail"] = det
			out["findings response"] = []byte(`{"findings":[` + string(det) + `]}`)
			out["CLI response"] = []byte(`{"Findings":[` + string(det) + `]}`)
		}
	}
	return out
}

// inputs lists the project's fixtures and, when present beside the repository, every file of the
// shared GuardDuty corpora.
func inputs(t testing.TB) map[string][]byte {
	files := map[string][]byte{}
	add := func(dir string) int {
		n := 0
		_ = filepath.WalkDir(dir, func(path string, e os.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			files[path] = b
			n++
			return nil
		})
		return n
	}
	if add(filepath.Join("..", "finding", "testdata", "events")) == 0 {
		t.Fatal("no fixtures in shared/finding/testdata/events")
	}
	for _, c := range []string{"guardduty", "guardduty-more"} {
		dir := filepath.Join("..", "..", "..", "shared", "testdata", c)
		if _, err := os.Stat(dir); err != nil {
			t.Logf("corpus %s is absent: only the project's fixtures are compared", dir)
			continue
		}
		t.Logf("corpus %s: %d files", dir, add(dir))
	}
	return files
}

func TestDifferential_FixturesAndCorpora(t *testing.T) {
	for path, raw := range inputs(t) {
		for name, in := range variants(raw) {
			if err := compare(in); err != nil {
				t.Errorf("%s (%s): %v", path, name, err)
			}
		}
		var p fastjson.Parser
		if v, err := p.ParseBytes(raw); err == nil {
			if d := v.Get("detail"); d != nil {
				body := []byte(`{"findings":[` + string(d.MarshalTo(nil)) + `]}`)
				for _, id := range []string{string(d.GetStringBytes("id")), "absent"} {
					if err := compareResponse(body, id); err != nil {
						t.Errorf("%s (GetFindings, id %q): %v", path, id, err)
					}
				}
			}
		}
	}
}

func FuzzDifferential(f *testing.F) {
	for _, raw := range inputs(f) {
		f.Add(raw)
	}
	// Small inputs the mutator can change meaningfully, one per route and per kind of value.
	ev := func(detail string) string {
		return `{"version":"0","id":"e1","detail-type":"GuardDuty Finding","source":"aws.guardduty","account":"111122223333","region":"us-east-1","resources":["x"],"detail":` + detail + `}`
	}
	small := strings.Replace(okDetailJSON, `"service":{"count":1}`, `"service":{"count":1,"archived":true,"additionalInfo":{"value":"{\"sample\":true}"},`+
		`"action":{"actionType":"NETWORK_CONNECTION","networkConnectionAction":{"localPortDetails":{"port":22},"remoteIpDetails":{"ipAddressV4":"198.51.100.7"}},`+
		`"awsApiCallAction":{"affectedResources":{"AWS::S3::Bucket":"b"}}}}`, 1)
	small = strings.Replace(small, `"instanceId":`, `"tags":[{"key":"k","value":"v\u00e9"}],"networkInterfaces":[{"vpcId":"vpc-1","securityGroups":[{"groupId":"sg-1"}]}],"instanceId":`, 1)
	quoted, _ := json.Marshal(ev(small))
	pascal := `{"Findings":[{"SchemaVersion":"2.0","AccountId":"111122223333","Region":"us-east-1","Id":"a2c4e6f8a0b2","Type":"Recon:EC2/Portscan","Severity":2.5,` +
		`"Resource":{"ResourceType":"Instance","InstanceDetails":{"InstanceId":"i-0abc1234def567890","Tags":[{"Key":"a","Value":"b"}]}},"Service":{"AdditionalInfo":{"Value":"{\"sample\":true}"}}}]}`
	asff := `{"detail-type":"Security Hub Findings - Imported","source":"aws.securityhub","detail":{"findings":[{"ProductArn":"arn:aws:securityhub:us-east-1::product/aws/guardduty",` +
		`"Id":"arn:aws:guardduty:us-east-1:111122223333:detector/d1/finding/f1","Types":["TTPs/Recon:EC2-Portscan"],"AwsAccountId":"111122223333",` +
		`"FindingProviderFields":{"Severity":{"Original":"5"}},"ProductFields":{"aws/guardduty/service/count":"3","aws/guardduty/service/additionalInfo":"{\"sample\":true}"},` +
		`"Resources":[{"Type":"AwsEc2Instance","Id":"arn:aws:ec2:us-east-1:111122223333:instance/i-0abc1234def567890","Tags":{"b":"2","a":"1"},"Details":{"AwsEc2Instance":{"VpcId":"vpc-1"}}}]}]}}`
	for _, s := range []string{okDetailJSON, small, ev(small), string(quoted), `{"Records":[{"Sns":{"Message":` + ev(small) + `}}]}`,
		`{"findings":[` + small + `]}`, pascal, asff, `{"Records":[{"Sns":{"Message":"{\"type\":1}"}}]}`, `{"findings":[]}`,
		`{"a":"\ud83d\u0041","b":[1e400,-0.0,1.5e-7]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if err := compare(raw); err != nil {
			t.Fatal(err)
		}
		if err := compareResponse(raw, "a2c4e6f8a0b2"); err != nil {
			t.Fatalf("as a GetFindings response: %v", err)
		}
	})
}

const okDetailJSON = `{"schemaVersion":"2.0","accountId":"111122223333","region":"us-east-1","id":"a2c4e6f8a0b2","type":"UnauthorizedAccess:EC2/MaliciousIPCaller.Custom","severity":5,"resource":{"resourceType":"Instance","instanceDetails":{"instanceId":"i-0abc1234def567890"}},"service":{"count":1}}`

// BenchmarkDecoders runs the old and the new decoder in turn, in batches of 100, on the benchmark's
// SNS-wrapped finding. On a machine shared with other work both see the same load; the fastest batch
// of each (min-ns/op) is what each costs when nothing interrupts it.
func BenchmarkDecoders(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join("..", "finding", "testdata", "events", "envelope_sns_string.json"))
	if err != nil {
		b.Fatal(err)
	}
	const batch = 100
	var oldT, newT time.Duration
	oldMin, newMin := time.Hour, time.Hour
	for b.Loop() {
		t0 := time.Now()
		for range batch {
			if _, err := ref.Parse(raw); err != nil {
				b.Fatal(err)
			}
		}
		t1 := time.Now()
		for range batch {
			if _, err := Parse(raw); err != nil {
				b.Fatal(err)
			}
		}
		t2 := time.Now()
		oldT += t1.Sub(t0)
		newT += t2.Sub(t1)
		oldMin, newMin = min(oldMin, t1.Sub(t0)), min(newMin, t2.Sub(t1))
	}
	n := float64(b.N * batch)
	b.ReportMetric(float64(oldT.Nanoseconds())/n, "old-ns/op")
	b.ReportMetric(float64(newT.Nanoseconds())/n, "new-ns/op")
	b.ReportMetric(float64(oldMin.Nanoseconds())/batch, "old-min-ns/op")
	b.ReportMetric(float64(newMin.Nanoseconds())/batch, "new-min-ns/op")
	b.ReportMetric(float64(oldMin)/float64(newMin), "old/new-min")
}

// IsRegion, rewritten not to split its argument, answers as the old one did.
func FuzzIsRegion(f *testing.F) {
	for _, s := range []string{"us-east-1", "us-gov-west-1", "x-east-1", "us-east-123", "us--1", "us-east-", "-us-east-1", "ab-c-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := IsRegion(s), ref.IsRegion(s); got != want {
			t.Fatalf("IsRegion(%q) = %v, the old one %v", s, got, want)
		}
	})
}
