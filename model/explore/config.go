package explore

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/jobfsm/jobfsm/fsm"
)

// Bounds of the packed state (State): the explorer refuses larger configs.
const (
	MaxJobs     = 4
	MaxMonitors = 2
	MaxDrains   = 3
)

// Config is the CONSTANTS section of a TLC model config (tla/MC_*.cfg) for
// tla/JobLifecycle.tla. Job sets are bit masks: bit i is TLA+ job i+1.
type Config struct {
	N                 int
	Grouped           uint8
	ManualFinalize    uint8
	ManualDismiss     uint8
	ReadyJobs         uint8
	MayFail           uint8
	StopOnError       uint8
	PrepareMayFail    uint8
	BitmapJobs        uint8
	MaxDrains         int
	NMonitors         int
	RollbackQEMU72    bool // RollbackRule = "qemu72"
	FinalizeInWaiting bool
	// Version is QemuVersion: the QEMU version whose table (fsm.For) every
	// legality decision asks.
	Version fsm.Version
	// CheckDeadlock is the config's CHECK_DEADLOCK (TLC's default: TRUE).
	CheckDeadlock bool
}

// ConfigError is a malformed or incomplete model config.
type ConfigError struct {
	File string
	Line int // 0: the file as a whole
	Msg  string
}

func (e *ConfigError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// LoadConfig reads a TLC model config file.
func LoadConfig(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseConfig(path, f)
}

// cfgKeywords end a CONSTANTS section (TLC's config grammar).
var cfgKeywords = map[string]bool{
	"CONSTANT": true, "CONSTANTS": true, "INIT": true, "NEXT": true, "SPECIFICATION": true,
	"INVARIANT": true, "INVARIANTS": true, "PROPERTY": true, "PROPERTIES": true,
	"CONSTRAINT": true, "CONSTRAINTS": true, "ACTION_CONSTRAINT": true,
	"ACTION_CONSTRAINTS": true, "SYMMETRY": true, "VIEW": true, "CHECK_DEADLOCK": true,
	"POSTCONDITION": true, "ALIAS": true,
}

var constantNames = []string{
	"N", "Grouped", "ManualFinalize", "ManualDismiss", "ReadyJobs", "MayFail",
	"StopOnError", "PrepareMayFail", "BitmapJobs", "MaxDrains", "NMonitors", "RollbackRule",
	"FinalizeInWaiting", "QemuVersion",
}

// ParseConfig parses a TLC config: the assignments `Name = value` of its
// CONSTANTS section(s) (values: naturals, strings, TRUE/FALSE, sets of
// naturals) and CHECK_DEADLOCK. Every constant of JobLifecycle must be given
// exactly once; anything else in the CONSTANTS section is an error.
func ParseConfig(name string, r io.Reader) (*Config, error) {
	vals := map[string]string{}
	lines := map[string]int{}
	cfg := &Config{CheckDeadlock: true}
	sc := bufio.NewScanner(r)
	section := ""
	for ln := 1; sc.Scan(); ln++ {
		line := sc.Text()
		if i := strings.Index(line, `\*`); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if cfgKeywords[fields[0]] {
			section = fields[0]
			fields = fields[1:]
			if section == "CHECK_DEADLOCK" {
				if len(fields) != 1 || (fields[0] != "TRUE" && fields[0] != "FALSE") {
					return nil, &ConfigError{name, ln, "CHECK_DEADLOCK wants TRUE or FALSE"}
				}
				cfg.CheckDeadlock = fields[0] == "TRUE"
				continue
			}
			if len(fields) == 0 {
				continue
			}
			line = strings.Join(fields, " ")
		}
		if section != "CONSTANT" && section != "CONSTANTS" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, &ConfigError{name, ln, fmt.Sprintf("want Name = value, got %q", strings.TrimSpace(line))}
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if _, dup := vals[k]; dup {
			return nil, &ConfigError{name, ln, fmt.Sprintf("constant %s given twice", k)}
		}
		vals[k], lines[k] = v, ln
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, k := range constantNames {
		known[k] = true
		if _, ok := vals[k]; !ok {
			return nil, &ConfigError{name, 0, fmt.Sprintf("constant %s missing from CONSTANTS", k)}
		}
	}
	for k := range vals {
		if !known[k] {
			return nil, &ConfigError{name, lines[k], fmt.Sprintf("unknown constant %s", k)}
		}
	}
	errAt := func(k, msg string) error { return &ConfigError{name, lines[k], k + ": " + msg} }
	num := func(k string, lo, hi int) (int, error) {
		n, err := strconv.Atoi(vals[k])
		if err != nil || n < lo || n > hi {
			return 0, errAt(k, fmt.Sprintf("want a number in %d..%d, got %s", lo, hi, vals[k]))
		}
		return n, nil
	}
	var err error
	if cfg.N, err = num("N", 1, MaxJobs); err != nil {
		return nil, err
	}
	if cfg.MaxDrains, err = num("MaxDrains", 0, MaxDrains); err != nil {
		return nil, err
	}
	if cfg.NMonitors, err = num("NMonitors", 0, MaxMonitors); err != nil {
		return nil, err
	}
	set := func(k string) (uint8, error) {
		v := vals[k]
		if !strings.HasPrefix(v, "{") || !strings.HasSuffix(v, "}") {
			return 0, errAt(k, "want a set of job numbers like {1, 2}, got "+v)
		}
		var m uint8
		for _, e := range strings.Split(v[1:len(v)-1], ",") {
			e = strings.TrimSpace(e)
			if e == "" {
				continue
			}
			j, err := strconv.Atoi(e)
			if err != nil || j < 1 || j > cfg.N {
				return 0, errAt(k, fmt.Sprintf("%q is not a job in 1..%d", e, cfg.N))
			}
			m |= 1 << (j - 1)
		}
		return m, nil
	}
	for _, p := range []struct {
		k string
		m *uint8
	}{
		{"Grouped", &cfg.Grouped}, {"ManualFinalize", &cfg.ManualFinalize},
		{"ManualDismiss", &cfg.ManualDismiss}, {"ReadyJobs", &cfg.ReadyJobs},
		{"MayFail", &cfg.MayFail}, {"StopOnError", &cfg.StopOnError},
		{"PrepareMayFail", &cfg.PrepareMayFail},
		{"BitmapJobs", &cfg.BitmapJobs},
	} {
		if *p.m, err = set(p.k); err != nil {
			return nil, err
		}
	}
	switch vals["RollbackRule"] {
	case `"qemu72"`:
		cfg.RollbackQEMU72 = true
	case `"fixed"`:
	default:
		return nil, errAt("RollbackRule", `want "qemu72" or "fixed", got `+vals["RollbackRule"])
	}
	switch vals["FinalizeInWaiting"] {
	case "TRUE":
		cfg.FinalizeInWaiting = true
	case "FALSE":
	default:
		return nil, errAt("FinalizeInWaiting", "want TRUE or FALSE, got "+vals["FinalizeInWaiting"])
	}
	qv := vals["QemuVersion"]
	name, quoted := strings.CutPrefix(qv, `"`)
	name, closed := strings.CutSuffix(name, `"`)
	if cfg.Version, err = fsm.ParseVersion(name); err != nil || !quoted || !closed {
		return nil, errAt("QemuVersion", fmt.Sprintf("want one of %s as a TLA+ string, got %s", quotedVersions(), qv))
	}
	return cfg, nil
}

// Table is the table of the config's QEMU version.
func (c *Config) Table() *fsm.Table { return fsm.For(c.Version) }

// quotedVersions lists the versions as a config spells them: "7.2", "10.0".
func quotedVersions() string {
	var parts []string
	for _, v := range fsm.Versions() {
		parts = append(parts, strconv.Quote(v.String()))
	}
	return strings.Join(parts, ", ")
}
