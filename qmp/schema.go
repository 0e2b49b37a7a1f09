package qmp

import (
	"fmt"
	"strings"
	"sync"

	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/internal/qerr"
)

// schema/qemu-VERSION.json is what qemu-storage-daemon of that version
// answers to query-qmp-schema and query-commands, and its greeting, recorded
// once (make qmp-schema, make qmp-schema-10.0); go generate turns them into
// schema_gen.go. The argument checker interprets the dispatcher's version's
// schema, so every command gets that QEMU's member order, optionality, enum
// values and union variants without a hand-written copy, and query-commands,
// query-version and the greeting are that version's.
//
//go:generate go run ./internal/genschema schema_gen.go schema/qemu-7.2.json schema/qemu-10.0.json
//go:generate go run ./internal/genversions schema ../spec/versions.md

type member struct {
	Name     string
	Type     string
	Optional bool
}

type variant struct {
	Case string
	Type string
}

// entity is one SchemaInfo entry of query-qmp-schema.
type entity struct {
	Name        string
	MetaType    string
	JSONType    string
	Members     []member
	Tag         string
	Variants    []variant
	Values      []string
	ElementType string
	ArgType     string
}

// generatedSchema is one version's recorded schema as genschema writes it.
type generatedSchema struct {
	source   string // where and how it was recorded
	version  string // the greeting's and query-version's value, JSON
	commands []string
	types    map[string]*entity
}

type qapiSchema struct {
	types    map[string]*entity
	commands []string // query-commands order
	version  any      // the greeting's and query-version's value
	// alternates are the real QAPI names of the schema's alternates, by
	// their members' type names (alternateNames).
	alternates map[string]string
}

var (
	schemaMu sync.Mutex
	schemas  = map[fsm.Version]*qapiSchema{}
)

// alternateNames are, per version, the real QAPI names of the schema's
// alternates, which introspection hides but QEMU's type error quotes. The
// key is the alternate's member types as the recorded schema numbers them,
// which differ between versions.
var alternateNames = map[fsm.Version]map[string]string{
	fsm.QEMU7_2: {
		"str,17":      "BlockDirtyBitmapOrStr",
		"str,null":    "StrOrNull",
		"29,str":      "BlockdevRef",
		"29,str,null": "BlockdevRefOrNull",
		"312,313":     "Qcow2OverlapChecks",
	},
	fsm.QEMU10_0: {
		"str,25":      "BlockDirtyBitmapOrStr",
		"str,null":    "StrOrNull",
		"38,str":      "BlockdevRef",
		"38,str,null": "BlockdevRefOrNull",
		"324,325":     "Qcow2OverlapChecks",
	},
}

// SchemaError is returned by loadSchema for a version without a recorded
// schema (a version added to fsm without running genschema on its file).
type SchemaError struct{ Version fsm.Version }

func (e *SchemaError) Error() string {
	return fmt.Sprintf("qmp: no QMP schema recorded for QEMU %s (qmp/schema/qemu-%s.json, go generate)", e.Version, e.Version)
}

// loadSchema returns version v's schema, built once.
func loadSchema(v fsm.Version) (*qapiSchema, error) {
	schemaMu.Lock()
	defer schemaMu.Unlock()
	if s := schemas[v]; s != nil {
		return s, nil
	}
	g := generatedSchemas[v.String()]
	if g == nil {
		return nil, &SchemaError{Version: v}
	}
	ver, err := ParseValue([]byte(g.version))
	if err != nil {
		return nil, fmt.Errorf("qmp: generated schema version of QEMU %s: %w", v, err)
	}
	s := &qapiSchema{types: g.types, commands: g.commands, version: ver, alternates: alternateNames[v]}
	schemas[v] = s
	return s, nil
}

func typeErr(name, expected string) error {
	return qerr.Generic("Invalid parameter type for '%s', expected: %s", name, expected)
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// check validates v against QAPI type typ as QEMU's qobject input visitor
// does, returning the first error in visiting order. name is the member's
// full name ("file.filename", "actions[0].data"); inList marks a list
// element, which QEMU names "null" in an alternate's type error.
func (s *qapiSchema) check(v any, typ, name string, inList bool) error {
	if len(typ) > 2 && typ[0] == '[' {
		return s.checkList(v, typ[1:len(typ)-1], name)
	}
	e := s.types[typ]
	if e == nil {
		return nil
	}
	switch e.MetaType {
	case "builtin":
		switch e.JSONType {
		case "string":
			if _, ok := v.(string); !ok {
				return typeErr(name, "string")
			}
		case "int":
			if ct, ok := intCTypes[bareName(name)]; ok {
				return checkCInt(v, ct, name, inList)
			}
			n, ok := v.(Number)
			if !ok || n.Kind == NumDouble {
				return typeErr(name, "integer")
			}
		case "number":
			if _, ok := v.(Number); !ok {
				return typeErr(name, "number")
			}
		case "boolean":
			if _, ok := v.(bool); !ok {
				return typeErr(name, "boolean")
			}
		case "null":
			if v != nil {
				return typeErr(name, "null")
			}
		}
		return nil
	case "enum":
		str, ok := v.(string)
		if !ok {
			return typeErr(name, "string")
		}
		for _, val := range e.Values {
			if val == str {
				return nil
			}
		}
		// input_type_enum quotes the member's own name, not its full path
		bare := name
		if i := strings.LastIndexByte(bare, '.'); i >= 0 {
			bare = bare[i+1:]
		}
		if inList {
			bare = "null"
		}
		return qerr.Generic("Parameter '%s' does not accept value '%s'", bare, str)
	case "array":
		return s.checkList(v, e.ElementType, name)
	case "alternate":
		return s.checkAlternate(e, v, name, inList)
	case "object":
		o, ok := v.(*Object)
		if !ok {
			return typeErr(name, "object")
		}
		seen := map[string]bool{}
		if err := s.checkMembers(e, o, name, seen); err != nil {
			return err
		}
		for _, k := range o.Keys {
			if !seen[k] {
				return qerr.Generic("Parameter '%s' is unexpected", join(name, k))
			}
		}
	}
	return nil
}

func (s *qapiSchema) checkList(v any, elem, name string) error {
	l, ok := v.([]any)
	if !ok {
		return typeErr(name, "array")
	}
	for i, x := range l {
		if err := s.check(x, elem, fmt.Sprintf("%s[%d]", name, i), true); err != nil {
			return err
		}
	}
	return nil
}

// checkMembers visits an object type's members (and its union variant's)
// in schema order, marking the keys it consumed.
func (s *qapiSchema) checkMembers(e *entity, o *Object, prefix string, seen map[string]bool) error {
	for _, m := range e.Members {
		v, ok := o.Get(m.Name)
		if !ok {
			if m.Optional {
				continue
			}
			return qerr.Generic("Parameter '%s' is missing", join(prefix, m.Name))
		}
		seen[m.Name] = true
		if err := s.check(v, m.Type, join(prefix, m.Name), false); err != nil {
			return err
		}
	}
	if e.Tag != "" {
		tag, _ := o.Get(e.Tag)
		tv, _ := tag.(string)
		for _, vr := range e.Variants {
			if vr.Case == tv {
				if ve := s.types[vr.Type]; ve != nil {
					if err := s.checkMembers(ve, o, prefix, seen); err != nil {
						return err
					}
				}
				break
			}
		}
	}
	return nil
}

func jsonKind(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case Number:
		if x.Kind == NumDouble {
			return "number"
		}
		return "int"
	case *Object:
		return "object"
	case []any:
		return "array"
	}
	return ""
}

func (s *qapiSchema) checkAlternate(e *entity, v any, name string, inList bool) error {
	kind := jsonKind(v)
	key := ""
	for i, m := range e.Members {
		if i > 0 {
			key += ","
		}
		key += m.Type
		me := s.types[m.Type]
		if me == nil {
			continue
		}
		mk := me.JSONType
		switch me.MetaType {
		case "enum":
			mk = "string"
		case "object":
			mk = "object"
		case "array":
			mk = "array"
		}
		if mk == kind || (mk == "number" && kind == "int") {
			return s.check(v, m.Type, name, inList)
		}
	}
	alt := s.alternates[key]
	if alt == "" {
		alt = "alternate"
	}
	if inList {
		name = "null"
	}
	return typeErr(name, alt)
}

// command returns the schema entity of a command, or nil.
func (s *qapiSchema) command(name string) *entity {
	e := s.types[name]
	if e == nil || e.MetaType != "command" {
		return nil
	}
	return e
}

// checkArgs validates a command's arguments.
func (s *qapiSchema) checkArgs(cmd *entity, args *Object) error {
	if cmd.ArgType == "" {
		for _, k := range args.Keys {
			return qerr.Generic("Parameter '%s' is unexpected", k)
		}
		return nil
	}
	return s.check(args, cmd.ArgType, "", false)
}
