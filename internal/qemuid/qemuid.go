// Package qemuid is QEMU's rule for user-chosen identifiers (util/id.c
// id_wellformed), which job ids and node names share. It sits below both
// blockdev and sim so that neither imports the other for it.
package qemuid

// WellFormed reports whether id is a valid QEMU identifier: an ASCII
// letter, then letters, digits, '-', '.', '_'.
func WellFormed(id string) bool {
	if id == "" || !isAlpha(id[0]) {
		return false
	}
	for i := 1; i < len(id); i++ {
		c := id[i]
		if !isAlpha(c) && !(c >= '0' && c <= '9') && c != '-' && c != '.' && c != '_' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
