// Command render prints the guardbots service control policy (infra/scp) for a deployment, ready for
// `aws organizations create-policy --type SERVICE_CONTROL_POLICY --content file://guardbots-scp.json`:
//
//	go run ./infra/scp/render --orchestrator-account 111122223333 \
//	  --exempt-tag-principal arn:aws:iam::111122223333:role/SecurityExemptions > guardbots-scp.json
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/guardbots/guardbots/infra/scp"
)

func main() {
	var p scp.Params
	var principals string
	flag.StringVar(&p.Partition, "partition", "aws", "the organization's partition")
	flag.StringVar(&p.Prefix, "prefix", "guardbots", "the deployment's rolePrefix (context)")
	flag.StringVar(&p.OrchestratorAccount, "orchestrator-account", "", "the account the orchestrator stack is in (required)")
	flag.StringVar(&principals, "exempt-tag-principal", "", "comma-separated role or user ARNs that may set or remove the guardbots:exempt tag (required)")
	flag.Parse()
	for _, a := range strings.Split(principals, ",") {
		if a = strings.TrimSpace(a); a != "" {
			p.ExemptTagPrincipals = append(p.ExemptTagPrincipals, a)
		}
	}
	doc, err := scp.Render(p)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Println(string(doc))
}
