// Package schemafile reads the recorded schema files qmp/schema/qemu-VERSION.json
// (qemu-storage-daemon's query-qmp-schema, query-commands and greeting, one
// file per QEMU version, written by `make qmp-schema` and `make
// qmp-schema-10.0`). Both generators in qmp/internal read them through it.
package schemafile

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/jobfsm/jobfsm/fsm"
)

// File is one recorded schema file.
type File struct {
	Source   string `json:"source"`
	Greeting struct {
		QMP struct {
			Version json.RawMessage `json:"version"`
		} `json:"QMP"`
	} `json:"greeting"`
	Commands []string  `json:"commands"`
	Schema   []*Entity `json:"schema"`
}

// Entity is one SchemaInfo of query-qmp-schema.
type Entity struct {
	Name        string    `json:"name"`
	MetaType    string    `json:"meta-type"`
	JSONType    string    `json:"json-type"`
	Members     []Member  `json:"members"`
	Tag         string    `json:"tag"`
	Variants    []Variant `json:"variants"`
	Values      []string  `json:"values"`
	ElementType string    `json:"element-type"`
	ArgType     string    `json:"arg-type"`
}

// Member is an object type's member.
type Member struct {
	Name    string          `json:"name"`
	Type    string          `json:"type"`
	Default json.RawMessage `json:"default"`
}

// Variant is one case of a flat union.
type Variant struct {
	Case string `json:"case"`
	Type string `json:"type"`
}

// Load reads one schema file.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &f, nil
}

// LoadAll reads every version's file from dir (qemu-VERSION.json).
func LoadAll(dir string) (map[fsm.Version]*File, error) {
	out := map[fsm.Version]*File{}
	for _, v := range fsm.Versions() {
		f, err := Load(filepath.Join(dir, "qemu-"+v.String()+".json"))
		if err != nil {
			return nil, err
		}
		out[v] = f
	}
	return out, nil
}

// Events returns the names of the file's events, sorted.
func (f *File) Events() []string {
	var out []string
	for _, e := range f.Schema {
		if e.MetaType == "event" {
			out = append(out, e.Name)
		}
	}
	slices.Sort(out)
	return out
}
