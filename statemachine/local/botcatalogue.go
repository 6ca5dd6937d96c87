package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/guardbots/guardbots/shared/bots"
	_ "github.com/guardbots/guardbots/shared/bots/all" // the catalogue is generated from every implementation
)

// botCatalogueFile is the registry's catalogue, relative to the repository root.
var botCatalogueFile = filepath.Join("shared", "bots", "catalogue.json")

// genBotCatalogue writes shared/bots/catalogue.json from the bots linked into this program: all of
// them. Register refuses a declaration that differs from the committed catalogue, so this runs built
// with -tags gencatalogue (as go generate does), which lets it link the new declarations.
func genBotCatalogue(args []string, stdout, stderr io.Writer) int {
	root, ok := rootFlag("gen-bot-catalogue", args, stderr)
	if !ok {
		return 1
	}
	data, err := bots.MarshalCatalogue(bots.Implemented())
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	path := filepath.Join(root, botCatalogueFile)
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		fmt.Fprintf(stdout, "%s is up to date (%d bots)\n", botCatalogueFile, len(bots.Implemented()))
		return 0
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s (%d bots)\n", botCatalogueFile, len(bots.Implemented()))
	return 0
}
