package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/jobfsm/jobfsm/faults"
	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/qmp"
)

// qmpStdin is the request stream of `jobsim qmp` on stdio (a variable so
// tests can replace it).
var qmpStdin io.Reader = os.Stdin

func init() { register("qmp", "serve QMP like qemu-storage-daemon (stdio or --socket)", runQMP) }

func runQMP(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("qmp", "qmp [--qemu 7.2|10.0] [--socket PATH] [--clock wall|virtual] [--seed N] [--test-commands] [--faults FILE]", stderr)
	socket := fs.String("socket", "", "serve on this Unix socket (each connection its own monitor) instead of stdio")
	clock := fs.String("clock", "wall", "wall: virtual time follows the wall clock; virtual: jump ahead whenever every job waits on time")
	seed := fs.Uint64("seed", 0, "simulator tie-break seed")
	grace := fs.Duration("grace", qmp.DefaultGrace, "with --clock virtual: how long to wait for a client's reaction before jumping ahead")
	rate := fs.Float64("rate", qmp.DefaultRate, "with --clock virtual: at most this many virtual seconds per wall second")
	testCmds := fs.Bool("test-commands", false, "enable jobsim's x-jobsim-* commands (scriptable test jobs)")
	version := fsm.DefaultVersion
	fs.Var(&version, "qemu", "the QEMU version to speak: 7.2 or 10.0 (schema, greeting, verb table, behaviours)")
	faultsFile := fs.String("faults", "", "inject the faults of this plan (JSON, see go doc ./faults); each one is logged on stderr")
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	opts := qmp.ServerOptions{
		Options: qmp.Options{Seed: *seed, Version: version, TestCommands: *testCmds},
		Grace:   *grace,
		Rate:    *rate,
	}
	if *grace <= 0 {
		return usageErr("--grace must be positive, not %v", *grace)
	}
	// NaN compares false with everything, so "not > 0" also refuses it;
	// an infinite rate would make the allowance meaningless.
	if !(*rate > 0) || math.IsInf(*rate, 0) {
		return usageErr("--rate must be a positive finite number, not %v", *rate)
	}
	switch *clock {
	case "wall":
		opts.Clock = qmp.ClockWall
	case "virtual":
		opts.Clock = qmp.ClockVirtual
	default:
		return usageErr("--clock must be wall or virtual, not %q", *clock)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := qmp.NewServer(opts)
	in, err := loadFaults(*faultsFile, *socket != "", srv, stderr)
	if err != nil {
		return err
	}
	if *socket == "" {
		out, observe := io.Writer(stdout), func(r io.Reader) io.Reader { return r }
		if in != nil {
			out, observe = in.WrapWriter(stdout)
		}
		srv.Attach(observe(qmpStdin), out, nil)
		err := srv.Run(ctx, true)
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		return nil
	}
	l, err := listenUnix(*socket)
	if err != nil {
		return err
	}
	defer os.Remove(*socket)
	// Clients (and tests) wait for this line instead of polling the path.
	fmt.Fprintf(stderr, "jobsim qmp: listening on %s\n", *socket)
	errc := make(chan error, 1)
	var ln net.Listener = l
	if in != nil {
		ln = in.WrapListener(l)
	}
	logf := func(format string, args ...any) {
		fmt.Fprintf(stderr, "jobsim qmp: "+format+"\n", args...)
	}
	go func() { errc <- srv.ServeUnix(ln, logf) }()
	err = srv.Run(ctx, false)
	_ = l.Close()
	<-errc
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// loadFaults reads a --faults plan and arms it on srv (nil without one).
func loadFaults(path string, socket bool, srv *qmp.Server, stderr io.Writer) (*faults.Injector, error) {
	if path == "" {
		return nil, nil
	}
	plan, err := faults.Load(path)
	if err != nil {
		return nil, inputErr("%v", err)
	}
	if f := plan.NeedsSocket(); f != "" && !socket {
		return nil, usageErr("faults: %s: needs --socket (stdio is one connection that cannot be reopened)", f)
	}
	in := faults.New(plan)
	in.Logf = func(format string, args ...any) { fmt.Fprintf(stderr, "jobsim qmp: "+format+"\n", args...) }
	in.Restart = func() { _ = srv.Restart() }
	in.Arm(srv.Dispatcher()) // before Run starts the loop
	return in, nil
}

// listenUnix listens on path. A socket file left by a server that died
// without removing it (kill -9) is replaced, as qemu-storage-daemon
// replaces it; a path where a live server answers, or that is not a
// socket, is refused with a clear error instead.
func listenUnix(path string) (net.Listener, error) {
	l, err := net.Listen("unix", path)
	if err == nil {
		return l, nil
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		return nil, inputErr("%v", err)
	}
	fi, serr := os.Lstat(path)
	if serr != nil || fi.Mode()&os.ModeSocket == 0 {
		return nil, inputErr("%s exists and is not a socket; not replacing it", path)
	}
	if c, derr := net.Dial("unix", path); derr == nil {
		_ = c.Close()
		return nil, inputErr("a server is already listening on %s", path)
	} else if !errors.Is(derr, syscall.ECONNREFUSED) {
		return nil, inputErr("%s: %v", path, derr)
	}
	// Nobody answers: the file is stale.
	if rerr := os.Remove(path); rerr != nil {
		return nil, inputErr("removing stale socket %s: %v", path, rerr)
	}
	l, err = net.Listen("unix", path)
	if err != nil {
		return nil, inputErr("%v", err)
	}
	return l, nil
}
