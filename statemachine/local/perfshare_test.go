package main

import (
	"slices"
	"strings"
	"testing"
)

func TestParseMemory_TakesLambdaSizesOnly(t *testing.T) {
	got, err := parseMemory("128, 256,512")
	if err != nil || !slices.Equal(got, []int{128, 256, 512}) {
		t.Errorf("parseMemory: %v, %v", got, err)
	}
	for _, bad := range []string{"", "64", "10241", "128,x", "1e3"} {
		if _, err := parseMemory(bad); err == nil || !strings.Contains(err.Error(), "--share-memory") {
			t.Errorf("parseMemory(%q): %v, want an error naming the flag", bad, err)
		}
	}
}
