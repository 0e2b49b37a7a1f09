package blockdev

import (
	"crypto/sha256"
	"encoding/hex"
)

// NodeInfo is the part of BlockDeviceInfo (query-named-block-nodes) the
// simulation can state.
type NodeInfo struct {
	NodeName         string `json:"node-name"`
	Drv              string `json:"drv"`
	Ro               bool   `json:"ro"`
	File             string `json:"file"`
	BackingFile      string `json:"backing_file,omitempty"`
	BackingFileDepth int    `json:"backing_file_depth"`
	// Active is QEMU 10.0's activation state (always true: jobfsm has no
	// blockdev-set-active); nil where the version has no such member.
	Active       *bool        `json:"active,omitempty"`
	Encrypted    bool         `json:"encrypted"`
	DetectZeroes string       `json:"detect_zeroes"`
	VirtualSize  int64        `json:"-"`
	DirtyBitmaps []BitmapInfo `json:"dirty-bitmaps,omitempty"`
}

// NamedNodes is query-named-block-nodes: every node, newest first (as
// observed on qemu-storage-daemon 7.2: a backup's filter, then the target,
// then the source), with dirty-bitmaps only when the node has at least one
// bitmap, named or anonymous.
//
// NamedNodes is the flat=true form, the one every recorded transcript uses;
// NamedNodesFlat takes the argument.
func (g *Graph) NamedNodes() []NodeInfo { return g.NamedNodesFlat(true) }

// NamedNodesFlat is query-named-block-nodes with its flat argument: with
// flat=true QEMU 7.2 reports backing_file_depth 0 for every node (verified);
// without it, the depth of the backing chain below the node.
func (g *Graph) NamedNodesFlat(flat bool) []NodeInfo {
	out := make([]NodeInfo, 0, len(g.order))
	for i := len(g.order) - 1; i >= 0; i-- {
		in := g.order[i].Info()
		if flat {
			in.BackingFileDepth = 0
		}
		out = append(out, in)
	}
	return out
}

// SHA256 is the hex SHA-256 of everything the node reads (a guest's view of
// the node itself, backing chain included), for digests like the
// transcripts' "sha256" and "guest_sha256" steps.
func (n *Node) SHA256() (string, error) {
	h := sha256.New()
	buf := make([]byte, 1<<20)
	size := n.Size()
	for off := int64(0); off < size; off += int64(len(buf)) {
		k := min(int64(len(buf)), size-off)
		if _, err := n.Read(off, buf[:k]); err != nil {
			return "", err
		}
		h.Write(buf[:k])
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Info returns the node's query-named-block-nodes entry.
func (n *Node) Info() NodeInfo {
	drv := n.driver
	if drv == DriverMemory {
		drv = "file"
	}
	in := NodeInfo{NodeName: n.name, Drv: drv, Ro: n.readOnly, File: n.imageFilename(),
		BackingFile: n.backingFile, DetectZeroes: "off", VirtualSize: n.Size()}
	if b := n.Backing(); b != nil {
		in.BackingFileDepth = len(b.Chain())
	}
	if len(n.bitmaps) > 0 {
		in.DirtyBitmaps = n.BitmapInfos()
	}
	return in
}
