package faults

import (
	"io"
	"net"
)

// Serve puts the plan between clients and a real QMP server: every
// connection accepted on l becomes a monitor under the plan, connected to
// a fresh upstream connection from dial (e.g. a qemu-storage-daemon
// socket). It returns when l fails (close l to stop it).
func (in *Injector) Serve(l net.Listener, dial func() (net.Conn, error)) error {
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		up, err := dial()
		if err != nil {
			_ = c.Close()
			continue
		}
		wc := in.WrapConn(c)
		go func() {
			// Upstream to client, line by line through the plan.
			_, _ = io.Copy(wc, up)
			_ = wc.Close()
		}()
		go func() {
			_, _ = io.Copy(up, wc)
			_ = up.Close()
		}()
	}
}
