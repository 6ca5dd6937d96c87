// Package plantest is the signing half of the workflow on the local stack and in tests: an asymmetric
// signing key created in the kumo emulator (kumo serves KMS CreateKey, Sign, Verify and GetPublicKey
// with ECC_NIST_P256 and DIGEST messages), and the guardbots state machine registered in kumo so that
// DescribeExecution answers for the executions a test or the demo runs. The definition itself runs in
// aws-local-stepfunctions (kumo's own executor does not run the workflow's Lambda integrations the way
// AWS does), so the state machine kumo holds is a placeholder: one Wait state, for as long as an
// execution may live, stopped by the caller when the real run ends. Only tests and the local commands
// import it.
package plantest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/plan"
	"github.com/guardbots/guardbots/shared/steps"
)

// Local is a signing key and the guardbots state machine, in kumo.
type Local struct {
	KeyID           string
	StateMachineArn string
	KMS             *kms.Client
	SFN             *sfn.Client
	// Now is the signer's and the verifier's clock (time.Now when nil).
	Now func() time.Time
}

// placeholderState is the one state of the placeholder definition.
const placeholderState = "Runs in aws-local-stepfunctions"

// New creates a signing key (ECC_NIST_P256, SIGN_VERIFY) and registers the state machine name in the
// emulator at cfg's endpoint. kumo keeps one store per process, so a name registered before is reused.
func New(ctx context.Context, cfg aws.Config, stateMachine string) (*Local, error) {
	l := &Local{KMS: kms.NewFromConfig(cfg), SFN: sfn.NewFromConfig(cfg)}
	key, err := l.KMS.CreateKey(ctx, &kms.CreateKeyInput{
		KeySpec:     kmstypes.KeySpecEccNistP256,
		KeyUsage:    kmstypes.KeyUsageTypeSignVerify,
		Description: aws.String("guardbots plan signing (local)"),
	})
	if err != nil {
		return nil, fmt.Errorf("plantest: create the signing key: %w", err)
	}
	l.KeyID = aws.ToString(key.KeyMetadata.Arn)
	def, err := json.Marshal(map[string]any{
		"Comment": "placeholder: the guardbots definition runs in aws-local-stepfunctions; this execution only " +
			"answers DescribeExecution while it runs",
		"StartAt": placeholderState,
		"States": map[string]any{placeholderState: map[string]any{
			"Type": "Wait", "Seconds": int(deployment.ExecutionTimeout / time.Second), "End": true,
		}},
	})
	if err != nil {
		return nil, err
	}
	sm, err := l.SFN.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name: aws.String(stateMachine), Definition: aws.String(string(def)),
		RoleArn: aws.String("arn:aws:iam::000000000000:role/" + stateMachine),
	})
	var exists *sfntypes.StateMachineAlreadyExists
	switch {
	case err == nil:
		l.StateMachineArn = aws.ToString(sm.StateMachineArn)
	case errors.As(err, &exists):
		if l.StateMachineArn, err = l.find(ctx, stateMachine); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("plantest: register state machine %s: %w", stateMachine, err)
	}
	return l, nil
}

func (l *Local) find(ctx context.Context, name string) (string, error) {
	p := sfn.NewListStateMachinesPaginator(l.SFN, &sfn.ListStateMachinesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("plantest: list state machines: %w", err)
		}
		for _, sm := range page.StateMachines {
			if aws.ToString(sm.Name) == name {
				return aws.ToString(sm.StateMachineArn), nil
			}
		}
	}
	return "", fmt.Errorf("plantest: state machine %s exists but is not listed", name)
}

// Start starts a placeholder execution called name and returns its ARN: the execution ARN the run
// gives the workflow ($$.Execution.Id).
func (l *Local) Start(ctx context.Context, name string) (string, error) {
	out, err := l.SFN.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(l.StateMachineArn), Name: aws.String(name), Input: aws.String("{}")})
	if err != nil {
		return "", fmt.Errorf("plantest: start execution %s: %w", name, err)
	}
	return aws.ToString(out.ExecutionArn), nil
}

// Stop ends the placeholder execution (ABORTED in kumo): its plans can no longer act.
func (l *Local) Stop(ctx context.Context, execution string) error {
	if _, err := l.SFN.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(execution), Cause: aws.String("the local run ended")}); err != nil {
		return fmt.Errorf("plantest: stop execution %s: %w", execution, err)
	}
	return nil
}

// Signer signs with the key.
func (l *Local) Signer() plan.Signer { return plan.Signer{KMS: l.KMS, KeyID: l.KeyID, Now: l.Now} }

// Verifier verifies with the key's public half, honouring executions of the state machine.
func (l *Local) Verifier() *plan.Verifier {
	return &plan.Verifier{KMS: l.KMS, KeyID: l.KeyID, States: l.SFN, StateMachineArn: l.StateMachineArn, MaxAge: deployment.ExecutionTimeout, Now: l.Now}
}

// Sign signs in's action as the verify step signs action in.Index of a decision in execution in.Execution.
func (l *Local) Sign(ctx context.Context, in *steps.BotInput) error {
	sig, err := l.Signer().SignAction(ctx, plan.Action{Finding: in.Finding, Execution: in.Execution, Index: in.Index, MappingKey: in.MappingKey, Action: in.Action})
	if err != nil {
		return err
	}
	in.Action.Signature = sig
	return nil
}

// Env is what the Lambdas that sign or verify need: the key and the state machine.
func (l *Local) Env() []string {
	return []string{deployment.EnvSigningKey + "=" + l.KeyID, deployment.EnvStateMachineArn + "=" + l.StateMachineArn}
}
