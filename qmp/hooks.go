package qmp

import (
	"maps"

	"slices"
)

// CommandHook is called on the loop after a monitor executed a command that
// passed QMP's request and argument checks: name, its arguments and the
// command's error (nil on success).
type CommandHook func(name string, args *Object, err error)

// OnCommand registers fn for every command executed from now on, also after
// a Restart. Fault plans use it to arm I/O faults on a node as soon as
// blockdev-add created it, before any job can touch the node.
func (d *Dispatcher) OnCommand(fn CommandHook) {
	d.hooks = append(d.hooks, fn)
	if len(d.hooks) == 1 {
		d.wrapHandlers()
	}
}

// wrapHandlers makes the named handlers (all when none is named) call the
// hooks after they ran.
func (d *Dispatcher) wrapHandlers(names ...string) {
	if len(d.hooks) == 0 {
		return
	}
	if len(names) == 0 {
		names = slices.Collect(maps.Keys(d.handlers))
	}
	for _, name := range names {
		h, ok := d.handlers[name]
		if !ok {
			continue
		}
		d.handlers[name] = func(s *Session, args *Object) (any, error) {
			res, err := h(s, args)
			for _, fn := range d.hooks {
				fn(name, args, err)
			}
			return res, err
		}
	}
}
