package blockdev

import (
	"strings"

	"github.com/jobfsm/jobfsm/internal/qerr"
)

// Perm is a set of BlockPermission bits (block.h BLK_PERM_*).
type Perm uint8

const (
	PermConsistentRead Perm = 1 << iota
	PermWrite
	PermWriteUnchanged
	PermResize
	PermAll = PermConsistentRead | PermWrite | PermWriteUnchanged | PermResize
)

var permNames = []string{"consistent read", "write", "write unchanged", "resize"}

// String joins the permission names as bdrv_perm_names does.
func (p Perm) String() string {
	var out []string
	for i, n := range permNames {
		if p&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return strings.Join(out, ", ")
}

func (e *Edge) user() string {
	switch e.Kind {
	case ParentNode:
		return "node '" + e.Parent.name + "'"
	case ParentJob:
		return e.Job.Desc()
	}
	return e.Desc
}

// checkPerms is bdrv_parent_perms_conflict: every ordered pair of parents
// (a, b), newest first, must have b's permissions shared by a.
func (n *Node) checkPerms() error {
	for _, a := range n.parents {
		for _, b := range n.parents {
			if a == b {
				continue
			}
			if c := b.Perm &^ a.Shared; c != 0 {
				return qerr.Generic("Permission conflict on node '%s': permissions '%s' are both required by %s (uses node '%s' as '%s' child) and unshared by %s (uses node '%s' as '%s' child).",
					n.name, c, b.user(), n.name, b.Role, a.user(), n.name, a.Role)
			}
		}
	}
	return nil
}

// AttachBackendPerm adds a BlockBackend parent that takes perm and shares
// shared (an export: consistent read, plus write when writable, sharing
// everything). It fails with QEMU's permission-conflict text, attaching
// nothing.
func (g *Graph) AttachBackendPerm(desc string, n *Node, perm, shared Perm) (*Edge, error) {
	e := &Edge{Kind: ParentBackend, Role: "root", Desc: desc, Perm: perm, Shared: shared}
	g.attach(e, n)
	if err := n.checkPerms(); err != nil {
		g.detach(e)
		return nil, err
	}
	if perm&(PermWrite|PermResize) != 0 {
		if err := n.CheckWritable(); err != nil {
			g.detach(e)
			return nil, err
		}
	}
	return e, nil
}

// ErrReadOnly is QEMU's text for a write permission on a read-only node.
const ErrReadOnly = "Block node is read-only"

// CheckWritable is the read-only check of bdrv_node_refresh_perm for a
// parent that takes write permission on n: the permission goes down to the
// nodes n writes through (a format's file, a filter's child), and any of
// them opened read-only refuses it. (A node whose parents need no write
// may sit on a read-only file: QEMU 7.2 accepts a read-write raw over a
// read-only file node until something wants to write.)
func (n *Node) CheckWritable() error {
	for c := n; c != nil; {
		if c.readOnly {
			return qerr.Generic(ErrReadOnly)
		}
		switch c.driver {
		case DriverMirrorTop, DriverCommitTop:
			c = c.Filtered()
		case DriverFile, DriverMemory, DriverNullCo:
			c = nil
		default: // raw, qcow2, blkdebug, copy-before-write, copy-on-read
			var next *Node
			if c.file != nil {
				next = c.file.Child
			}
			c = next
		}
	}
	return nil
}
