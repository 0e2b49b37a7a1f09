package qmp

import "github.com/jobfsm/jobfsm/blockdev"

// Graph is the dispatcher's block graph. Tests that play the guest (writes,
// fault injection) or read ground truth (image bytes, dirty bits) use it
// from the goroutine that drives the dispatcher.
func (d *Dispatcher) Graph() *blockdev.Graph { return d.blk.g }
