package main

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/jobfsm/jobfsm/conformance"
)

// spec/qemu-10.0.md states which corpus transcripts differ between QEMU
// 7.2 and 10.0; these tests hold it to the recorded transcripts and to the
// typed tables, so re-recording or retyping cannot leave the page behind.
// They need no QEMU: they read committed files only.

const (
	notesFile = "../../spec/qemu-10.0.md"
	corpusDir = "../../spec/conformance"
	v10Dir    = "../../spec/conformance/qemu-10.0"
)

// notesClasses returns the scenarios of each row of the page's class table
// and the counts the page states.
func notesClasses(t *testing.T) (rows map[string][]string, identical, total int) {
	t.Helper()
	f, err := os.Open(notesFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows = map[string][]string{}
	counts := regexp.MustCompile(`\*\*Corpus: (\d+) of (\d+) transcripts identical\*\*`)
	sc := bufio.NewScanner(f)
	inTable := false
	for sc.Scan() {
		line := sc.Text()
		if m := counts.FindStringSubmatch(line); m != nil {
			identical, _ = strconv.Atoi(m[1])
			total, _ = strconv.Atoi(m[2])
		}
		if strings.HasPrefix(line, "| class | scenarios | count |") {
			inTable = true
			continue
		}
		if !inTable {
			continue
		}
		if !strings.HasPrefix(line, "|") {
			break
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 3 || strings.HasPrefix(strings.TrimSpace(cells[0]), "---") {
			continue
		}
		var names []string
		for _, n := range strings.Split(cells[1], ",") {
			names = append(names, strings.TrimSpace(n))
		}
		if n, err := strconv.Atoi(strings.TrimSpace(cells[2])); err != nil || n != len(names) {
			t.Errorf("%s: row %q says %s scenarios and lists %d", notesFile, cells[0], cells[2], len(names))
		}
		rows[strings.TrimSpace(cells[0])] = names
	}
	if total == 0 || len(rows) == 0 {
		t.Fatalf("%s: no counts line or no class table", notesFile)
	}
	return rows, identical, total
}

func TestNotesCountTheRecordedTranscripts(t *testing.T) {
	rows, identical, total := notesClasses(t)
	scns, err := conformance.LoadCorpus(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	var differ []string
	for _, s := range scns {
		v72, err := conformance.LoadTranscript(filepath.Join(corpusDir, s.Name+".transcript.json"))
		if err != nil {
			t.Fatal(err)
		}
		v10, err := conformance.LoadTranscript(filepath.Join(v10Dir, s.Name+".transcript.json"))
		if err != nil {
			t.Fatalf("%v: every scenario needs its 10.0 transcript (make conformance-record-10.0)", err)
		}
		if conformance.Diff(v72, v10) != "" {
			differ = append(differ, s.Name)
		}
	}
	if len(scns) != total || len(scns)-len(differ) != identical {
		t.Errorf("recordings: %d of %d identical; %s says %d of %d", len(scns)-len(differ), len(scns), notesFile, identical, total)
	}
	var listed []string
	seen := map[string]string{}
	for class, names := range rows {
		for _, n := range names {
			if other, dup := seen[n]; dup {
				t.Errorf("%s is in two classes: %q and %q", n, other, class)
			}
			seen[n] = class
			listed = append(listed, n)
		}
	}
	sort.Strings(listed)
	if strings.Join(listed, " ") != strings.Join(differ, " ") {
		t.Errorf("class table lists %v;\nthe recordings differ in %v", listed, differ)
	}
}

// readTable reads an fsm/testdata matrix: row name, then 11 cells.
func readTable(t *testing.T, name string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../../fsm/testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) != 12 {
			t.Fatalf("%s: bad row %q", name, line)
		}
		rows[f[0]] = strings.Join(f[1:], " ")
	}
	return rows
}

// The page's §9: JobSTT unchanged; JobVerbTable gains only `change`,
// allowed in created, running, paused, ready and standby.
func TestNotesDescribeTheTables(t *testing.T) {
	stt72, stt10 := readTable(t, "qemu72_jobstt.txt"), readTable(t, "qemu-10.0_jobstt.txt")
	if len(stt10) != 11 {
		t.Errorf("10.0 JobSTT has %d rows, want 11", len(stt10))
	}
	for from, row := range stt72 {
		if stt10[from] != row {
			t.Errorf("JobSTT[%s]: 7.2 %q, 10.0 %q", from, row, stt10[from])
		}
	}
	v72, v10 := readTable(t, "qemu72_jobverbtable.txt"), readTable(t, "qemu-10.0_jobverbtable.txt")
	for verb, row := range v72 {
		if v10[verb] != row {
			t.Errorf("JobVerbTable[%s]: 7.2 %q, 10.0 %q", verb, row, v10[verb])
		}
	}
	//                                  U C R P Y S W D X E N
	if got, want := v10["change"], "0 1 1 1 1 1 0 0 0 0 0"; got != want || len(v10) != len(v72)+1 {
		t.Errorf("10.0 JobVerbTable: change %q (want %q), %d rows (want %d)", got, want, len(v10), len(v72)+1)
	}
}
