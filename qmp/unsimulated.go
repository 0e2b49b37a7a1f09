package qmp

import (
	"github.com/jobfsm/jobfsm/internal/qerr"
)

// unsimulated lists, by command, the arguments a newer QEMU's schema has
// (10.0: qmp/schema/qemu-10.0.json) that change what the command does in a
// way jobfsm does not simulate (deviation D26), with the value that leaves
// the command as jobfsm runs it (QEMU's default). Any other value is
// refused before the command runs, instead of being ignored. An older
// schema rejects the arguments anyway ("Parameter '...' is unexpected").
var unsimulated = map[string][]defaultArg{
	// backup_job_create's discard_source: discard each source cluster
	// once copied (8.2+)
	"blockdev-backup": {{"discard-source", false}},
	// the backing file string written into the overlay (9.0+)
	"block-commit": {{"backing-mask-protocol", false}},
	"block-stream": {{"backing-mask-protocol", false}},
}

// defaultArg is an argument and the one value jobfsm accepts for it.
type defaultArg struct {
	name string
	def  any
}

// errUnsimulated is the refusal of a value jobfsm does not simulate.
func errUnsimulated(cmd, arg string, v any) error {
	return qerr.Generic("jobsim does not implement %s with '%s': %s (deviation D26)", cmd, arg, string(Encode(v)))
}

// checkSimulated refuses the arguments of unsimulated set to anything but
// their default, also in a transaction's actions, and a node opened
// inactive (blockdev-add's active, 10.0: jobfsm has no inactive nodes),
// also inline children.
func checkSimulated(cmd string, args *Object) error {
	switch cmd {
	case "transaction":
		v, _ := args.Get("actions")
		l, _ := v.([]any)
		for _, x := range l {
			act, _ := x.(*Object)
			data, _ := act.Get("data")
			d, ok := data.(*Object)
			if !ok {
				continue
			}
			if err := checkSimulated(argStr(act, "type"), d); err != nil {
				return err
			}
		}
		return nil
	case "blockdev-add":
		return checkActive(args)
	}
	for _, a := range unsimulated[cmd] {
		if v, ok := args.Get(a.name); ok && v != a.def {
			return errUnsimulated(cmd, a.name, v)
		}
	}
	return nil
}

func checkActive(o *Object) error {
	if v, ok := o.Get("active"); ok && v != true {
		return errUnsimulated("blockdev-add", "active", v)
	}
	for _, k := range o.Keys {
		if c, ok := o.M[k].(*Object); ok {
			if err := checkActive(c); err != nil {
				return err
			}
		}
	}
	return nil
}
