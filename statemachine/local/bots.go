package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/guardbots/guardbots/statemachine/internal/generate"
)

func listBots(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bots", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	entries := generate.Entries()
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
