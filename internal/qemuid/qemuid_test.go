package qemuid

import "testing"

// The cases are util/id.c's rule read by hand: a letter first, then
// letters, digits, '-', '.', '_'.
func TestWellFormed(t *testing.T) {
	for id, want := range map[string]bool{
		"a": true, "Job-1.x_y": true, "Z9": true,
		"": false, "1job": false, "_job": false, "-job": false, "job 1": false, "job#": false, "jöb": false,
	} {
		if got := WellFormed(id); got != want {
			t.Errorf("WellFormed(%q) = %v, want %v", id, got, want)
		}
	}
}
