package bots

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/guardbots/guardbots/shared/finding"
)

func TestCatalogue_DefaultsComeBackWithTheirGoTypes(t *testing.T) {
	run := func(context.Context, Request) (Result, error) { return Result{}, nil }
	in := Bot{Name: "typed_defaults", Summary: "s", Impact: ImpactDisruptive, Package: "example.com/p",
		Resources: []finding.ResourceKind{finding.KindInstance}, Run: run,
		Params: []Param{
			{Name: "s", Type: TypeString, Default: "soft", Enum: []string{"soft", "hard"}},
			{Name: "i", Type: TypeInt, Default: 5, Min: 1, Max: 10},
			{Name: "b", Type: TypeBool, Default: false},
			{Name: "d", Type: TypeDuration, Default: 15 * time.Minute},
			{Name: "l", Type: TypeStrings, Default: []string{"a", "b"}},
			{Name: "none", Type: TypeString, Required: true},
		}}
	data, err := MarshalCatalogue([]Bot{in})
	if err != nil {
		t.Fatal(err)
	}
	out, err := decodeCatalogue(data)
	if err != nil || len(out) != 1 {
		t.Fatalf("decode: %v %v", out, err)
	}
	in.Run = nil
	if !reflect.DeepEqual(out[0], in) {
		t.Errorf("round trip:\n got %#v\nwant %#v", out[0], in)
	}
}

func TestCatalogue_EveryRegisteredDefaultHasItsParamsGoType(t *testing.T) {
	for _, b := range Registered() {
		for _, p := range b.Params {
			if p.Default == nil {
				continue
			}
			ok := false
			switch p.Type {
			case TypeString:
				_, ok = p.Default.(string)
			case TypeInt:
				_, ok = p.Default.(int)
			case TypeBool:
				_, ok = p.Default.(bool)
			case TypeDuration:
				_, ok = p.Default.(time.Duration)
			case TypeStrings:
				_, ok = p.Default.([]string)
			}
			if !ok {
				t.Errorf("%s.%s (%s): default %#v", b.Name, p.Name, p.Type, p.Default)
			}
		}
	}
}

func TestRegister_RefusesADeclarationThatDiffersFromTheCatalogue(t *testing.T) {
	n, ok := Lookup("notify_only")
	if !ok || n.Run == nil {
		t.Fatal("notify_only is not linked")
	}
	n.Summary += " (changed)"
	if err := checkCatalogued(n); err == nil || !strings.Contains(err.Error(), "go generate ./...") {
		t.Errorf("changed declaration: %v, want an error telling to regenerate", err)
	}
	n.Name = "unknown_bot"
	if err := checkCatalogued(n); err == nil || !strings.Contains(err.Error(), "not in the bot catalogue") {
		t.Errorf("uncatalogued bot: %v", err)
	}
	n.Name = TestBotPrefix + "own"
	if err := checkCatalogued(n); err != nil {
		t.Errorf("a tests' own bot needs no catalogue entry: %v", err)
	}
}

func TestLookup_LeavesRunNilWhenTheImplementationIsNotLinked(t *testing.T) {
	// This package links no family: its bots come from the catalogue alone.
	b, ok := Lookup("ec2_stop_instance")
	if !ok || b.Run != nil || b.Package != "github.com/guardbots/guardbots/shared/bots/ec2bots" {
		t.Errorf("ec2_stop_instance: found %v, Run set %v, package %q", ok, b.Run != nil, b.Package)
	}
	if n, _ := Lookup("notify_only"); n.Run == nil || n.Package != "github.com/guardbots/guardbots/shared/bots" {
		t.Errorf("notify_only is implemented here: Run set %v, package %q", n.Run != nil, n.Package)
	}
}

// The one-entry read Register uses finds every bot's entry as the whole decode has it, and no other.
func TestCatalogueEntryNamed_IsTheWholeDecodesEntry(t *testing.T) {
	all, err := decodeCatalogue(catalogueJSON)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range all {
		e, ok, err := catalogueEntryNamed(catalogueJSON, want.Name)
		if err != nil || !ok {
			t.Fatalf("%s: found %t, %v", want.Name, ok, err)
		}
		got, err := e.bot()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", want.Name, got, want)
		}
	}
	if _, ok, err := catalogueEntryNamed(catalogueJSON, "no_such_bot"); ok || err != nil {
		t.Errorf("an unknown bot: found %t, %v", ok, err)
	}
	if _, _, err := catalogueEntryNamed([]byte(`{"bots": [`), "notify_only"); err == nil {
		t.Error("a truncated catalogue must be an error")
	}
}

// The generator replaces the built-in catalogue (LoadCatalogue) and then checks the linked bots against
// the one it loaded, not against the one-entry read of the built-in JSON.
func TestCheckCatalogued_UsesTheLoadedCatalogue(t *testing.T) {
	all, err := decodeCatalogue(catalogueJSON)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		catalogueMu.Lock()
		catalogueBots = nil // back to the built-in catalogue, decoded on next use
		catalogueMu.Unlock()
	})
	for i := range all {
		if all[i].Name == "notify_only" {
			all[i].Summary += " (changed)"
		}
	}
	changed, err := MarshalCatalogue(all)
	if err != nil {
		t.Fatal(err)
	}
	if err := LoadCatalogue(changed); err != nil {
		t.Fatal(err)
	}
	if err := CheckCatalogued("notify_only"); err == nil || !strings.Contains(err.Error(), "differs") {
		t.Errorf("against the loaded catalogue: %v, want a difference", err)
	}
}
