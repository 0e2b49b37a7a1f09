package qmp

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jobfsm/jobfsm/blockdev"
	"github.com/jobfsm/jobfsm/internal/qerr"
	"github.com/jobfsm/jobfsm/sim"
)

// blockLayer binds the block commands (blockdev-add, bitmaps,
// query-named-block-nodes, and the job-creating commands) to the blockdev
// graph and the sim/blockjob drivers. The arguments have passed the schema
// check, so they decode into the blockdev types without surprises; QEMU's
// semantic checks and texts are the graph's and the drivers'.
type blockLayer struct {
	d *Dispatcher
	g *blockdev.Graph
}

func newBlockLayer(d *Dispatcher) *blockLayer {
	return &blockLayer{d: d, g: blockdev.NewGraph()}
}

// decode converts checked arguments into a blockdev argument struct.
func decode(a *Object, into any) error {
	if err := noUint(a, ""); err != nil {
		return err
	}
	if err := json.Unmarshal(Encode(a), into); err != nil {
		// the schema check makes this unreachable; never panic on it
		return qerr.Generic("%s", err.Error())
	}
	return nil
}

func (b *blockLayer) register() {
	h := b.d.handlers
	h["blockdev-add"] = func(s *Session, a *Object) (any, error) {
		var o blockdev.NodeOptions
		if err := decode(a, &o); err != nil {
			return nil, err
		}
		before := b.g.Nodes()
		if _, err := b.g.AddNode(o); err != nil {
			return nil, err
		}
		for _, e := range newChildEdges(before, b.g.Nodes()) {
			if e.Role == "backing" {
				b.d.m.DrainAllFor(sim.DrainOpenBacking)
			} else {
				b.d.m.DrainAllFor(sim.DrainOpenChild)
			}
		}
		return nil, nil
	}
	h["blockdev-del"] = func(s *Session, a *Object) (any, error) {
		before := len(b.g.Nodes())
		if err := b.g.DelNode(argStr(a, "node-name")); err != nil {
			return nil, err
		}
		for range before - len(b.g.Nodes()) {
			b.d.m.DrainAllFor(sim.DrainCloseNode)
		}
		return nil, nil
	}
	h["block-dirty-bitmap-add"] = func(s *Session, a *Object) (any, error) {
		var o blockdev.BitmapAddArgs
		if err := decode(a, &o); err != nil {
			return nil, err
		}
		return nil, b.g.BitmapAdd(o)
	}
	h["block-dirty-bitmap-remove"] = func(s *Session, a *Object) (any, error) {
		return nil, b.g.BitmapRemove(argStr(a, "node"), argStr(a, "name"))
	}
	h["block-dirty-bitmap-clear"] = func(s *Session, a *Object) (any, error) {
		return nil, b.g.BitmapClear(argStr(a, "node"), argStr(a, "name"))
	}
	h["block-dirty-bitmap-enable"] = func(s *Session, a *Object) (any, error) {
		return nil, b.g.BitmapEnable(argStr(a, "node"), argStr(a, "name"))
	}
	h["block-dirty-bitmap-disable"] = func(s *Session, a *Object) (any, error) {
		return nil, b.g.BitmapDisable(argStr(a, "node"), argStr(a, "name"))
	}
	h["block-dirty-bitmap-merge"] = func(s *Session, a *Object) (any, error) {
		return nil, b.g.BitmapMerge(argStr(a, "node"), argStr(a, "target"), bitmapRefs(a))
	}
	h["x-debug-block-dirty-bitmap-sha256"] = func(s *Session, a *Object) (any, error) {
		sum, err := b.g.BitmapSHA256(argStr(a, "node"), argStr(a, "name"))
		if err != nil {
			return nil, err
		}
		return NewObject().Set("sha256", sum), nil
	}
	h["query-named-block-nodes"] = func(s *Session, a *Object) (any, error) {
		nodes := nonNil(b.g.NamedNodes())
		if b.d.m.Has(sim.NodeActive) {
			active := true
			for i := range nodes {
				nodes[i].Active = &active
			}
		}
		return nodes, nil
	}
	b.registerJobs()
}

// bitmapRefs decodes block-dirty-bitmap-merge's bitmaps
// (BlockDirtyBitmapOrStr list).
func bitmapRefs(a *Object) []blockdev.BitmapRef {
	v, _ := a.Get("bitmaps")
	l, _ := v.([]any)
	refs := make([]blockdev.BitmapRef, 0, len(l))
	for _, e := range l {
		switch x := e.(type) {
		case string:
			refs = append(refs, blockdev.BitmapRef{Name: x})
		case *Object:
			refs = append(refs, blockdev.BitmapRef{Node: argStr(x, "node"), Name: argStr(x, "name"), External: true})
		}
	}
	return refs
}

// noUint rejects integers above INT64_MAX: the blockdev argument structs
// hold int64, where QEMU's visitor gives the type error.
func noUint(v any, name string) error {
	switch x := v.(type) {
	case Number:
		if x.Kind == NumUint && !strings.HasPrefix(intCTypes[bareName(name)], "uint") {
			return typeErr(name, "integer")
		}
	case *Object:
		for _, k := range x.Keys {
			if err := noUint(x.M[k], join(name, k)); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range x {
			if err := noUint(e, fmt.Sprintf("%s[%d]", name, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// newChildEdges are the child edges of the nodes in after that are not in
// before: the children a blockdev-add attached, existing nodes and the ones
// it created inline alike.
func newChildEdges(before, after []*blockdev.Node) []*blockdev.Edge {
	old := make(map[*blockdev.Node]bool, len(before))
	for _, n := range before {
		old[n] = true
	}
	var edges []*blockdev.Edge
	for _, n := range after {
		for _, e := range n.Parents() {
			if e.Kind == blockdev.ParentNode && !old[e.Parent] {
				edges = append(edges, e)
			}
		}
	}
	return edges
}
