package statemachine

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/deployment"
)

// Placeholder scheme: a step's Task Resource is ${<Step>FunctionArn} (ParseFunctionArn, …), a bot's is
// ${Bot_<bot>_FunctionArn}; bot names are [a-z][a-z0-9_]*, so every name is a valid
// DefinitionSubstitutions key.
func stepPlaceholder(fn string) string { return "${" + stepKey(fn) + "}" }
func botPlaceholder(bot string) string { return "${" + botKey(bot) + "}" }

// stepKey: "request_approval" → "RequestApprovalFunctionArn".
func stepKey(fn string) string {
	var b strings.Builder
	for part := range strings.SplitSeq(fn, "_") {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String() + "FunctionArn"
}
func botKey(bot string) string { return "Bot_" + bot + "_FunctionArn" }

// Placeholders maps every placeholder name in Definition (without "${}") to the function it stands for,
// e.g. "ParseFunctionArn" → "parse", "Bot_ec2_stop_instance_FunctionArn" → "ec2_stop_instance": one for
// each of the deployment's functions. CDK fills them with DefinitionSubstitutions; a local run with
// LambdaARNs.
func Placeholders() map[string]string {
	out := map[string]string{}
	// Every bot: the definition keeps a branch for each (Deployed narrows it to a deployment's).
	s := deployment.DefaultSettings()
	s.EnabledBots = bots.Names()
	for _, fn := range deployment.Functions(s, deployment.Resources{}) {
		if fn.Bot {
			out[botKey(fn.Name)] = fn.Name
		} else {
			out[stepKey(fn.Name)] = fn.Name
		}
	}
	return out
}

// LambdaARNs gives each placeholder the ARN of its function by name in one account and region: what a
// local run passes to Render (aws-local-stepfunctions invokes the Resource as the function name).
func LambdaARNs(partition, region, account string) map[string]string {
	out := map[string]string{}
	for key, fn := range Placeholders() {
		out[key] = fmt.Sprintf("arn:%s:lambda:%s:%s:function:%s", partition, region, account, fn)
	}
	return out
}

// Render replaces every ${Name} in def with arns[Name], JSON-escaped. A placeholder with no value is an
// error naming all of them; extra entries in arns are ignored.
func Render(def []byte, arns map[string]string) ([]byte, error) {
	var missing []string
	out := placeholderRE.ReplaceAllFunc(def, func(m []byte) []byte {
		name := string(placeholderRE.FindSubmatch(m)[1])
		v, ok := arns[name]
		if !ok {
			missing = append(missing, name)
			return m
		}
		q, _ := json.Marshal(v) // a string always marshals
		return q[1 : len(q)-1]
	})
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("statemachine: no value for placeholders %s", strings.Join(slices.Compact(missing), ", "))
	}
	return out, nil
}

// PlaceholdersIn lists the placeholder names def uses (without "${}"), sorted: after Deployed, those of
// the deployment's functions only.
func PlaceholdersIn(def []byte) []string {
	var out []string
	for _, m := range placeholderRE.FindAllSubmatch(def, -1) {
		out = append(out, string(m[1]))
	}
	sort.Strings(out)
	return slices.Compact(out)
}
