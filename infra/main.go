// Command infra is the guardbots CDK app: `cdk synth` / `cdk deploy` run it (cdk.json), and
// `CDK_OUTDIR=cdk.out go run ./infra` synthesizes without the CLI. Configuration is CDK context,
// documented with its defaults in infra/README.md.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/statemachine"
)

func main() {
	err := run()
	jsii.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "guardbots infra:", err)
		os.Exit(1)
	}
}

func run() error {
	app := awscdk.NewApp(nil)
	cfg, err := FromContext(func(key string) any { return app.Node().TryGetContext(jsii.String(key)) })
	if err != nil {
		return err
	}
	root, err := deployment.ModuleRoot()
	if err != nil {
		return err
	}
	wf, err := currentWorkflow()
	if err != nil {
		return err
	}
	if _, err := Build(app, cfg, BuildOptions{
		Root: root, AssetDir: filepath.Join(root, "build"), Workflow: wf,
	}); err != nil {
		return err
	}
	if errs := synthErrors(app.Synth(nil)); len(errs) > 0 {
		return fmt.Errorf("synthesis reported errors:\n%s", errorList(errs))
	}
	return nil
}

// currentWorkflow is the definition generated from the registry this binary was built with.
func currentWorkflow() (Workflow, error) {
	def, err := statemachine.Definition()
	if err != nil {
		return Workflow{}, err
	}
	return Workflow{Definition: def, Placeholders: statemachine.Placeholders()}, nil
}
