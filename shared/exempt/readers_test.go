package exempt

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/guardbots/guardbots/shared/finding"
)

func TestCheck_FailsClosedNamingTheReadWhenNoReaderIsLinked(t *testing.T) {
	const op = "ec2:DescribeTags"
	saved, had := readers[op]
	delete(readers, op)
	t.Cleanup(func() {
		if had {
			readers[op] = saved
		}
	})
	ts := []finding.Target{{Kind: finding.TargetInstance, ID: "i-0123456789abcdef0", Account: "111122223333", Region: "us-east-1"}}
	v, err := Check(context.Background(), aws.Config{Region: "us-east-1"}, ts)
	if err == nil || v.Exempt != nil || !strings.Contains(err.Error(), "no reader of "+op) {
		t.Fatalf("%+v, err %v: want an error naming the tag read", v, err)
	}
}
