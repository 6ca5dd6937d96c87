package deployment

import "testing"

func TestMemorySizeFor_ThreeTimesThePeakRoundedUpTo64MBNeverUnderLambdasMinimum(t *testing.T) {
	for peak, want := range map[int]int{35: 128, 42: 128, 43: 192, 100: 320} {
		if got := MemorySizeFor(peak); got != want {
			t.Errorf("MemorySizeFor(%d MB) = %d, want %d", peak, got, want)
		}
	}
	if got := GoMemLimit(256); got != "230MiB" {
		t.Errorf("GoMemLimit(256) = %s, want 230MiB", got)
	}
}
