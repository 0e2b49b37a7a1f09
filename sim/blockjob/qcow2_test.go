package blockjob

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jobfsm/jobfsm/blockdev"
)

// qcow2Chain makes base <- mid <- top with qemu-img and fills them with
// qemu-io exactly as the QEMU transcripts' "images" do.
func qcow2Chain(t *testing.T) (dir string) {
	for _, bin := range []string{"qemu-img", "qemu-io"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s missing under CI", bin)
			}
			t.Skipf("%s not installed", bin)
		}
	}
	dir = t.TempDir()
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	p := func(n string) string { return filepath.Join(dir, n+".qcow2") }
	run("qemu-img", "create", "-q", "-f", "qcow2", p("base"), "4M")
	run("qemu-img", "create", "-q", "-f", "qcow2", "-b", p("base"), "-F", "qcow2", p("mid"))
	run("qemu-img", "create", "-q", "-f", "qcow2", "-b", p("mid"), "-F", "qcow2", p("top"))
	run("qemu-io", "-f", "qcow2", "-c", "write -P 170 0 262144", p("base"))
	run("qemu-io", "-f", "qcow2", "-c", "write -P 85 1048576 65536", p("mid"))
	run("qemu-io", "-f", "qcow2", "-c", "write -P 17 3145728 524288", p("top"))
	return dir
}

func (e *env) openChain(dir string) {
	for _, n := range []string{"base", "mid", "top"} {
		o := blockdev.NodeOptions{Driver: blockdev.DriverQcow2, NodeName: n,
			File: &blockdev.NodeRef{Options: &blockdev.NodeOptions{Driver: blockdev.DriverFile, Filename: filepath.Join(dir, n+".qcow2")}}}
		switch n {
		case "mid":
			o.Backing = &blockdev.NodeRef{Ref: "base"}
		case "top":
			o.Backing = &blockdev.NodeRef{Ref: "mid"}
		}
		if _, err := e.g.AddNode(o); err != nil {
			e.t.Fatal(err)
		}
	}
}

// guestDigest is the transcripts' guest_sha256: qemu-img reads the chain.
func guestDigest(t *testing.T, path string) string {
	out := path + ".raw"
	if b, err := exec.Command("qemu-img", "convert", "-O", "raw", path, out).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img convert: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func qemuCheck(t *testing.T, path string) {
	b, err := exec.Command("qemu-img", "check", path).CombinedOutput()
	if err != nil || !strings.Contains(string(b), "No errors were found") {
		t.Fatalf("qemu-img check %s: %v\n%s", path, err, b)
	}
}

// TestQcow2FilesTranscripts runs commit_active, commit_intermediate and
// stream_to_base on real qcow2 files made by qemu-img, then lets qemu-img
// read the result: the digests and header backing names are the ones
// recorded on QEMU, and qemu-img check finds the images clean.
func TestQcow2FilesTranscripts(t *testing.T) {
	for _, sc := range []string{"commit_active", "commit_intermediate", "stream_to_base"} {
		t.Run(sc, func(t *testing.T) {
			dir := qcow2Chain(t)
			e := newEnv(t)
			e.openChain(dir)
			if d := e.digest("top"); d != chainDigest {
				t.Fatalf("top reads %s before the job", d)
			}
			var survivor string
			switch sc {
			case "commit_active":
				j, err := Commit(e.m, e.g, CommitArgs{Common: Common{JobID: str("c0")}, Device: "top"})
				if err != nil {
					t.Fatal(err)
				}
				e.settle()
				e.m.Complete(j)
				survivor = "base"
			case "commit_intermediate":
				if _, err := Commit(e.m, e.g, CommitArgs{Common: Common{JobID: str("c0")}, Device: "top", TopNode: str("mid"), BaseNode: str("base")}); err != nil {
					t.Fatal(err)
				}
				survivor = "top"
			case "stream_to_base":
				if _, err := Stream(e.m, e.g, StreamArgs{Common: Common{JobID: str("s0")}, Device: "top", BaseNode: str("base")}); err != nil {
					t.Fatal(err)
				}
				survivor = "top"
			}
			e.settle()
			wantBacking := map[string]string{"commit_active": "mid.qcow2", "commit_intermediate": "base.qcow2", "stream_to_base": "base.qcow2"}[sc]
			if got := e.g.Node("top").BackingFile(); got != filepath.Join(dir, wantBacking) {
				t.Fatalf("top's backing_file %q", got)
			}
			for _, n := range []string{"top", "mid", "base"} {
				if err := e.g.DelNode(n); err != nil {
					t.Fatal(err)
				}
			}
			for _, n := range []string{"top", "mid", "base"} {
				qemuCheck(t, filepath.Join(dir, n+".qcow2"))
			}
			if d := guestDigest(t, filepath.Join(dir, survivor+".qcow2")); d != chainDigest {
				t.Fatal(fmt.Sprintf("%s: qemu-img reads %s from %s", sc, d, survivor))
			}
		})
	}
}
