package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// checkWithNag adds cdk-nag's AWS Solutions pack to every stack under scope. Its findings become
// synthesis errors and warnings; synthErrors turns the errors into a failed synth.
func checkWithNag(scope awscdk.Stage) {
	awscdk.Aspects_Of(scope).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
}

// suppress records why one resource (and its generated children, e.g. a role's default policy) is
// exempt from one rule. Suppressions are per resource by design: nothing here can silence a rule for a
// whole stack. appliesTo narrows IAM5 to the exact wildcard findings it covers.
func suppress(resource any, rule, reason string, appliesTo ...string) {
	s := &cdknag.NagPackSuppression{Id: jsii.String(rule), Reason: jsii.String(reason)}
	if len(appliesTo) > 0 {
		a := make([]any, len(appliesTo))
		for i, v := range appliesTo {
			a[i] = v
		}
		s.AppliesTo = &a
	}
	cdknag.NagSuppressions_AddResourceSuppressions(resource, &[]*cdknag.NagPackSuppression{s}, jsii.Bool(true))
}

// synthErrors lists every error annotation in the assembly (cdk-nag findings included), sorted: the
// CLI refuses such an assembly, and `go run ./infra` without the CLI must fail the same way.
func synthErrors(asm cxapi.CloudAssembly) []string {
	var out []string
	for _, st := range *asm.StacksRecursively() {
		for _, m := range *st.Messages() {
			if m.Level != cxapi.SynthesisMessageLevel_ERROR {
				continue
			}
			out = append(out, fmt.Sprintf("%s: %v", *m.Id, m.Entry.Data))
		}
	}
	sort.Strings(out)
	return out
}

// errorList formats synthErrors for a message.
func errorList(errs []string) string { return "  " + strings.Join(errs, "\n  ") }
