package tracker

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// Event is one QMP event as QEMU sent it.
type Event struct {
	Name string          `json:"event"`
	Data json.RawMessage `json:"data"`
}

// Client is a minimal synchronous QMP client: one command at a time, events
// read along the way are queued for the caller. It owns its connection; a
// monitor serves one client, so it never shares one.
type Client struct {
	conn   net.Conn
	dec    *json.Decoder
	w      *bufio.Writer
	id     int
	events []Event
	view   *View
}

type message struct {
	QMP    json.RawMessage `json:"QMP"`
	Event  string          `json:"event"`
	Data   json.RawMessage `json:"data"`
	Return json.RawMessage `json:"return"`
	Error  *struct {
		Class string `json:"class"`
		Desc  string `json:"desc"`
	} `json:"error"`
	ID json.RawMessage `json:"id"`
}

// Dial connects to a QMP Unix socket and negotiates capabilities.
func Dial(path string, timeout time.Duration) (*Client, error) {
	nc, err := net.DialTimeout("unix", path, timeout)
	if err != nil {
		return nil, &ProtocolError{Op: "connect", Err: err}
	}
	c, err := NewClient(nc, timeout)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// NewClient reads QEMU's greeting from conn and negotiates capabilities;
// timeout bounds the wait for the greeting (0: no bound).
func NewClient(conn net.Conn, timeout time.Duration) (*Client, error) {
	c := &Client{conn: conn, dec: json.NewDecoder(conn), w: bufio.NewWriter(conn)}
	if timeout > 0 {
		_ = conn.SetReadDeadline(time.Now().Add(timeout))
	}
	var m message
	if err := c.dec.Decode(&m); err != nil {
		return nil, &ProtocolError{Op: "greeting", Err: notQMP(err)}
	}
	if m.QMP == nil {
		return nil, &ProtocolError{Op: "greeting", Err: errors.New("the peer's first message is not a QMP greeting")}
	}
	_ = conn.SetReadDeadline(time.Time{})
	if _, err := c.Execute("qmp_capabilities", nil); err != nil {
		return nil, err
	}
	return c, nil
}

func notQMP(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("the peer does not speak QMP (%v)", err)
	}
	if errors.Is(err, io.EOF) {
		return errors.New("the connection closed")
	}
	return err
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Record makes the client record every command it sends and every job
// event it reads in v (nil: stop recording).
func (c *Client) Record(v *View) { c.view = v }

// Execute sends one command and returns its "return" member, or a *QMPError
// for QEMU's error answer, or a *ProtocolError when the connection fails.
func (c *Client) Execute(cmd string, args any) (json.RawMessage, error) {
	if c.view == nil {
		return c.execute(cmd, args)
	}
	before := len(c.events)
	ret, err := c.execute(cmd, args)
	c.view.command(cmd, args, err, c.events[before:])
	return ret, err
}

func (c *Client) execute(cmd string, args any) (json.RawMessage, error) {
	c.id++
	id := fmt.Sprintf("t%d", c.id)
	req := map[string]any{"execute": cmd, "id": id}
	if a, err := json.Marshal(args); err == nil && string(a) != "null" {
		// a nil map in an interface is not nil: QEMU rejects null arguments
		req["arguments"] = json.RawMessage(a)
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, &ProtocolError{Op: cmd, Err: err}
	}
	c.w.Write(b)
	c.w.WriteByte('\n')
	if err := c.w.Flush(); err != nil {
		return nil, &ProtocolError{Op: cmd, Err: err}
	}
	want, _ := json.Marshal(id)
	for {
		var m message
		if err := c.dec.Decode(&m); err != nil {
			return nil, &ProtocolError{Op: cmd, Err: notQMP(err)}
		}
		if m.Event != "" {
			c.events = append(c.events, Event{Name: m.Event, Data: m.Data})
			continue
		}
		if string(m.ID) != string(want) {
			// an answer to a command this client did not send cannot be
			// on its own monitor
			return nil, &ProtocolError{Op: cmd, Err: fmt.Errorf("answer with unexpected id %s", m.ID)}
		}
		if m.Error != nil {
			return nil, &QMPError{Class: m.Error.Class, Desc: m.Error.Desc}
		}
		if m.Return == nil {
			return nil, &ProtocolError{Op: cmd, Err: errors.New("answer has neither return nor error")}
		}
		return m.Return, nil
	}
}

// TakeEvents returns the events read so far and forgets them.
func (c *Client) TakeEvents() []Event {
	e := c.events
	c.events = nil
	return e
}

// WaitEvent waits up to d for the next event. It returns false on timeout;
// an error when the connection fails.
func (c *Client) WaitEvent(d time.Duration) (bool, error) {
	if len(c.events) > 0 {
		return true, nil
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(d))
	defer c.conn.SetReadDeadline(time.Time{})
	var m message
	if err := c.dec.Decode(&m); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			// the decoder may hold a partial message; a fresh decoder
			// would lose it, so a timeout is only safe between messages:
			// QEMU writes each message in one piece, which makes it so
			c.dec = json.NewDecoder(io.MultiReader(c.dec.Buffered(), c.conn))
			return false, nil
		}
		return false, &ProtocolError{Op: "event", Err: notQMP(err)}
	}
	if m.Event == "" {
		return false, &ProtocolError{Op: "event", Err: errors.New("an answer nobody asked for")}
	}
	e := Event{Name: m.Event, Data: m.Data}
	c.events = append(c.events, e)
	c.view.events([]Event{e})
	return true, nil
}
