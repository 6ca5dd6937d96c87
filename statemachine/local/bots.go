package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/finding"
)

// botEntry is one bot in `bots --json`.
type botEntry struct {
	Name       string       `json:"name"`
	Summary    string       `json:"summary"`
	Resources  []string     `json:"resources"`
	Targets    []string     `json:"targets"`
	Related    []string     `json:"related,omitempty"`
	Params     []paramEntry `json:"params"`
	Impact     string       `json:"impact"`
	Operations []string     `json:"operations"`
	IAMActions []string     `json:"iamActions"`
}

type paramEntry struct {
	Name        string   `json:"name"`
	Type        string   `json:"type"`
	Required    bool     `json:"required"`
	Default     any      `json:"default,omitempty"`
	Enum        []string `json:"enum,omitempty"`
	Description string   `json:"description"`
}

func catalogue() []botEntry {
	var out []botEntry
	for _, b := range bots.Registered() {
		e := botEntry{Name: b.Name, Summary: b.Summary, Impact: string(b.Impact),
			Operations: append([]string{}, b.Operations...), IAMActions: b.IAMActions(),
			Params: []paramEntry{}, Resources: []string{}, Targets: []string{}}
		for _, r := range b.Resources {
			e.Resources = append(e.Resources, string(r))
		}
		for _, k := range b.Targets {
			e.Targets = append(e.Targets, string(k))
		}
		for _, r := range b.Related {
			spec, _ := finding.RelationOf(r)
			e.Related = append(e.Related, spec.Summary)
		}
		for _, p := range b.Params {
			def := p.Default
			if def != nil {
				def = bots.Params{p.Name: def}.JSON()[p.Name]
			}
			e.Params = append(e.Params, paramEntry{Name: p.Name, Type: string(p.Type), Required: p.Required,
				Default: def, Enum: p.Enum, Description: p.Description})
		}
		if e.IAMActions == nil {
			e.IAMActions = []string{}
		}
		out = append(out, e)
	}
	return out
}

func listBots(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bots", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	entries := catalogue()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(entries); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BOT\tRESOURCES\tIMPACT\tPARAMS\tIAM ACTIONS")
	for _, e := range entries {
		var params []string
		for _, p := range e.Params {
			s := p.Name + ":" + p.Type
			if p.Required {
				s += "!"
			}
			params = append(params, s)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Name, strings.Join(e.Resources, ","), e.Impact,
			dash(strings.Join(params, " ")), dash(strings.Join(e.IAMActions, " ")))
	}
	if err := tw.Flush(); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
