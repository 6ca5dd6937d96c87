package statemachine

import "encoding/json"

// The ASL shapes the generator writes. Struct field order is the key order in the generated file, so
// each state reads Type first and its transition last; maps (Parameters, States) marshal sorted.

type machine struct {
	Comment        string            `json:"Comment,omitempty"`
	StartAt        string            `json:"StartAt"`
	TimeoutSeconds int               `json:"TimeoutSeconds,omitempty"`
	States         map[string]*state `json:"States"`
}

type processor struct {
	ProcessorConfig map[string]string `json:"ProcessorConfig,omitempty"`
	StartAt         string            `json:"StartAt"`
	States          map[string]*state `json:"States"`
}

type state struct {
	Type           string `json:"Type"`
	Comment        string `json:"Comment,omitempty"`
	Resource       string `json:"Resource,omitempty"`
	TimeoutSeconds int    `json:"TimeoutSeconds,omitempty"`
	// TimeoutSecondsPath reads the timeout from the state's input (an approval's, from the mapping).
	TimeoutSecondsPath string          `json:"TimeoutSecondsPath,omitempty"`
	ItemsPath          string          `json:"ItemsPath,omitempty"`
	MaxConcurrency     int             `json:"MaxConcurrency,omitempty"`
	ItemSelector       map[string]any  `json:"ItemSelector,omitempty"`
	ItemProcessor      *processor      `json:"ItemProcessor,omitempty"`
	Parameters         map[string]any  `json:"Parameters,omitempty"`
	Result             json.RawMessage `json:"Result,omitempty"`
	ResultPath         string          `json:"ResultPath,omitempty"`
	OutputPath         string          `json:"OutputPath,omitempty"`
	Choices            []choice        `json:"Choices,omitempty"`
	Default            string          `json:"Default,omitempty"`
	Retry              []retrier       `json:"Retry,omitempty"`
	Catch              []catcher       `json:"Catch,omitempty"`
	Error              string          `json:"Error,omitempty"`
	Cause              string          `json:"Cause,omitempty"`
	CausePath          string          `json:"CausePath,omitempty"`
	Next               string          `json:"Next,omitempty"`
	End                bool            `json:"End,omitempty"`
}

// choice is a Choice rule: a leaf comparison, or an And/Or of them.
type choice struct {
	Variable      string   `json:"Variable,omitempty"`
	StringEquals  string   `json:"StringEquals,omitempty"`
	BooleanEquals *bool    `json:"BooleanEquals,omitempty"`
	IsPresent     *bool    `json:"IsPresent,omitempty"`
	IsBoolean     *bool    `json:"IsBoolean,omitempty"`
	IsString      *bool    `json:"IsString,omitempty"`
	And           []choice `json:"And,omitempty"`
	Or            []choice `json:"Or,omitempty"`
	Next          string   `json:"Next,omitempty"`
}

type retrier struct {
	ErrorEquals     []string `json:"ErrorEquals"`
	IntervalSeconds int      `json:"IntervalSeconds"`
	BackoffRate     float64  `json:"BackoffRate"`
	MaxAttempts     int      `json:"MaxAttempts"`
	MaxDelaySeconds int      `json:"MaxDelaySeconds"`
	JitterStrategy  string   `json:"JitterStrategy"`
}

type catcher struct {
	ErrorEquals []string `json:"ErrorEquals"`
	ResultPath  string   `json:"ResultPath,omitempty"`
	Next        string   `json:"Next"`
}

func ptr[T any](v T) *T { return &v }
