package qmp

import (
	"strings"
	"testing"
)

// TestParserEdgesAsQEMU: answers qemu-storage-daemon 7.2 gave (recorded by
// hand from its stdio monitor) to numbers longer than jobsim's old
// 4,096-digit cap and to NUL bytes, which QEMU's "stray" message cuts
// where C's printf("%s") does.
func TestParserEdgesAsQEMU(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"int of 4097 digits", `{"execute":"query-jobs","id":` + strings.Repeat("1", 4097) + `}`,
			`{"return": [], "id": inf}`},
		{"int of 100000 digits", `{"execute":"query-jobs","id":` + strings.Repeat("9", 100000) + `}`,
			`{"return": [], "id": inf}`},
		{"fraction of 5000 digits", `{"execute":"query-jobs","id":1.` + strings.Repeat("1", 5000) + `}`,
			`{"return": [], "id": 1.1111111111111112}`},
		{"exponent of 5000 digits", `{"execute":"query-jobs","id":1e` + strings.Repeat("0", 4999) + `1}`,
			`{"return": [], "id": 10}`},
		{"NUL in a string", "{\"execute\":\"query-jobs\",\"id\":\"a\x00b\"}",
			`{"error": {"class": "GenericError", "desc": "JSON parse error, stray '\"a'"}}` + "\n" +
				`{"error": {"class": "GenericError", "desc": "JSON parse error, expecting value"}}`},
		{"NUL before a message", "\x00{\"execute\":\"query-jobs\",\"id\":4}",
			`{"error": {"class": "GenericError", "desc": "JSON parse error, stray ''"}}` + "\n" +
				`{"return": [], "id": 4}`},
		// Recovery ends at ':' and ',' too: the key's colon, then the
		// value alone, then the closing brace are three messages
		// (qemu-storage-daemon 7.2.22 and 10.0.13 answer the same).
		{"NUL before a key", "{\x00\"execute\":\"query-version\"}",
			`{"error": {"class": "GenericError", "desc": "JSON parse error, stray ''"}}` + "\n" +
				`{"error": {"class": "GenericError", "desc": "JSON parse error, expecting value"}}` + "\n" +
				`{"error": {"class": "GenericError", "desc": "QMP input must be a JSON object"}}` + "\n" +
				`{"error": {"class": "GenericError", "desc": "JSON parse error, expecting value"}}`},
		{"0xFF before the second key", "{\"execute\":\"query-version\",\xff\"id\":1}",
			`{"error": {"class": "GenericError", "desc": "JSON parse error, stray '\uFFFD'"}}` + "\n" +
				`{"error": {"class": "GenericError", "desc": "JSON parse error, expecting value"}}` + "\n" +
				`{"error": {"class": "GenericError", "desc": "QMP input must be a JSON object"}}` + "\n" +
				`{"error": {"class": "GenericError", "desc": "JSON parse error, expecting value"}}`},
		{"NUL before a value", "{\"execute\": \x00 \"query-version\"}",
			`{"error": {"class": "GenericError", "desc": "JSON parse error, stray ''"}}` + "\n" +
				`{"error": {"class": "GenericError", "desc": "JSON parse error, expecting value"}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := NewDispatcher(Options{})
			s := d.Connect()
			s.HandleLine([]byte(`{"execute":"qmp_capabilities"}`))
			s.Take()
			s.HandleLine([]byte(c.in))
			var got []string
			for _, l := range s.Take() {
				got = append(got, string(l))
			}
			if g := strings.Join(got, "\n"); g != c.want {
				t.Errorf("got\n%s\nwant (QEMU 7.2)\n%s", g, c.want)
			}
		})
	}
}
