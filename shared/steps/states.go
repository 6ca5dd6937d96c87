package steps

// Names of the workflow's states that the execution history is read by (shared/plan): the Map over the
// actions and the approval Task inside it. The statemachine package names its states with these.
const (
	StateRemediate       = "Remediate"
	StateWaitForApproval = "Wait for approval"
)
