package exempt

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/guardbots/guardbots/shared/finding"
)

func TestCheck_FailsClosedNamingTheKindWhenNoReaderIsLinked(t *testing.T) {
	saved, had := readers[finding.KindInstance]
	delete(readers, finding.KindInstance)
	t.Cleanup(func() {
		if had {
			readers[finding.KindInstance] = saved
		}
	})
	f := &finding.Finding{ID: "f1", AccountID: "111122223333", Region: "us-east-1", ResourceKind: finding.KindInstance,
		Instance: &finding.Instance{ID: "i-1"}}
	_, ok, err := Check(context.Background(), aws.Config{Region: "us-east-1"}, f)
	if err == nil || ok || !strings.Contains(err.Error(), "no exemption tag reader for "+string(finding.KindInstance)) {
		t.Fatalf("exempt %v, err %v: want an error naming the resource kind", ok, err)
	}
}
