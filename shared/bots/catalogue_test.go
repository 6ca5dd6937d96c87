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
