package qmp

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// QEMU's JSON streamer limits (qobject/json-streamer.c).
const (
	MaxMessageSize = 64 << 20 // MAX_TOKEN_SIZE: bytes of one message's tokens
	MaxTokenCount  = 2 << 20  // MAX_TOKEN_COUNT
	MaxNesting     = 1 << 10  // MAX_NESTING
)

// A parsed QMP value is one of: nil (JSON null), bool, string, Number,
// *Object (keys in input order) or []any. Keeping integers apart from
// doubles and keys in order is what lets the argument checker give QEMU's
// answers ("expected: integer" for 1.5, first missing member in schema
// order).

// NumKind tells how QEMU's parser stored a number (QNum's kind).
type NumKind int

const (
	NumInt    NumKind = iota // fits int64
	NumUint                  // an integer above INT64_MAX that fits uint64
	NumDouble                // anything else: fractions, exponents, huge integers
)

// Number is a JSON number as QEMU's QNum holds it.
type Number struct {
	Kind NumKind
	I    int64
	U    uint64
	F    float64
}

// Int64 returns the number as an int64 if it is an integer that fits.
func (n Number) Int64() (int64, bool) {
	switch n.Kind {
	case NumInt:
		return n.I, true
	}
	return 0, false
}

// Uint64 returns the number as a uint64 (qnum_get_try_uint64).
func (n Number) Uint64() (uint64, bool) {
	switch n.Kind {
	case NumInt:
		if n.I >= 0 {
			return uint64(n.I), true
		}
	case NumUint:
		return n.U, true
	}
	return 0, false
}

// Float returns the number as a double (qnum_get_double).
func (n Number) Float() float64 {
	switch n.Kind {
	case NumInt:
		return float64(n.I)
	case NumUint:
		return float64(n.U)
	}
	return n.F
}

// Object is a JSON object with its keys in input order.
type Object struct {
	Keys []string
	M    map[string]any
}

// NewObject returns an empty object.
func NewObject() *Object { return &Object{M: map[string]any{}} }

// Get returns a member.
func (o *Object) Get(k string) (any, bool) {
	if o == nil {
		return nil, false
	}
	v, ok := o.M[k]
	return v, ok
}

// Set adds or replaces a member, keeping the first position of k.
func (o *Object) Set(k string, v any) *Object {
	if _, ok := o.M[k]; !ok {
		o.Keys = append(o.Keys, k)
	}
	o.M[k] = v
	return o
}

// Del removes a member.
func (o *Object) Del(k string) {
	if _, ok := o.M[k]; !ok {
		return
	}
	delete(o.M, k)
	for i, x := range o.Keys {
		if x == k {
			o.Keys = append(o.Keys[:i:i], o.Keys[i+1:]...)
			break
		}
	}
}

// ParseError is a malformed message. The connection stays usable: QEMU
// answers it with a GenericError without id and goes on reading.
type ParseError struct{ Msg string }

func (e *ParseError) Error() string { return "JSON parse error, " + e.Msg }

// limitError is a streamer limit (its text has no "JSON parse error" prefix).
type limitError struct{ msg string }

func (e *limitError) Error() string { return e.msg }

type tokKind int

const (
	tLCurly tokKind = iota
	tRCurly
	tLSquare
	tRSquare
	tColon
	tComma
	tString
	tInt
	tFloat
	tKeyword
	tError
)

type token struct {
	kind tokKind
	text string // raw text (strings: the raw quoted source)
}

// Decoder splits a byte stream into QMP messages the way QEMU's JSON
// streamer does: a message ends when its braces and brackets balance, a
// lexical error is reported at once and the lexer then skips to the next
// structural or control character, and limits bound what one message may
// hold. Newlines are not needed between messages.
type Decoder struct {
	r        *bufio.Reader
	recovery bool
	toks     []token
	size     int
	braces   int
	brackets int
	pending  error // a read error to return once queued messages are out
}

// NewDecoder reads messages from r.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{r: bufio.NewReaderSize(r, 64<<10)}
}

// Next returns the next message. A malformed message gives a *ParseError or
// a limit error (the caller answers it and calls Next again); the end of
// input gives io.EOF (an incomplete trailing message is dropped, as QEMU
// does when a client closes mid-message).
func (d *Decoder) Next() (any, error) {
	for {
		if d.pending != nil {
			return nil, d.pending
		}
		tok, err := d.lex()
		if err != nil {
			d.pending = err
			d.reset()
			return nil, err
		}
		if tok.kind == tError {
			d.reset()
			d.recovery = true
			return nil, &ParseError{Msg: fmt.Sprintf("stray '%s'", cString(tok.text))}
		}
		switch tok.kind {
		case tLCurly:
			d.braces++
		case tRCurly:
			d.braces--
		case tLSquare:
			d.brackets++
		case tRSquare:
			d.brackets--
		}
		d.size += len(tok.text)
		if d.size > MaxMessageSize {
			d.reset()
			return nil, &limitError{"JSON token size limit exceeded"}
		}
		if len(d.toks)+1 > MaxTokenCount {
			d.reset()
			return nil, &limitError{"JSON token count limit exceeded"}
		}
		if d.braces+d.brackets > MaxNesting {
			d.reset()
			return nil, &limitError{"JSON nesting depth limit exceeded"}
		}
		d.toks = append(d.toks, tok)
		if (d.braces > 0 || d.brackets > 0) && d.braces >= 0 && d.brackets >= 0 {
			continue
		}
		toks := d.toks
		d.reset()
		p := parser{toks: toks}
		v, perr := p.value()
		if perr != nil {
			return nil, perr
		}
		return v, nil
	}
}

// cString is text as C's printf("%s") shows it: up to its first NUL
// (QEMU's "stray" message prints the token that way).
func cString(text string) string {
	if i := strings.IndexByte(text, 0); i >= 0 {
		return text[:i]
	}
	return text
}

func (d *Decoder) reset() {
	d.toks = nil
	d.size = 0
	d.braces = 0
	d.brackets = 0
}

// isStructural reports JSON's six structural characters (RFC 8259), the
// points where QEMU's lexer leaves error recovery.
func isStructural(c byte) bool {
	return c == '{' || c == '}' || c == '[' || c == ']' || c == ':' || c == ','
}

// lex returns the next token; io errors end the stream.
func (d *Decoder) lex() (token, error) {
	for {
		c, err := d.r.ReadByte()
		if err != nil {
			return token{}, err
		}
		if d.recovery {
			// IN_RECOVERY: skip until a structural character, a control
			// character other than tab, or 0xFE/0xFF (json-lexer.c).
			if isStructural(c) || (c < 0x20 && c != '\t') || c >= 0xFE {
				d.recovery = false
				_ = d.r.UnreadByte()
			}
			continue
		}
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			continue
		case c == '{':
			return token{kind: tLCurly, text: "{"}, nil
		case c == '}':
			return token{kind: tRCurly, text: "}"}, nil
		case c == '[':
			return token{kind: tLSquare, text: "["}, nil
		case c == ']':
			return token{kind: tRSquare, text: "]"}, nil
		case c == ':':
			return token{kind: tColon, text: ":"}, nil
		case c == ',':
			return token{kind: tComma, text: ","}, nil
		case c == '"' || c == '\'':
			return d.lexString(c)
		case c == '-' || isDigit(c):
			return d.lexNumber(c)
		case isLetter(c):
			var b strings.Builder
			b.WriteByte(c)
			if _, long := d.readRun(&b, isLetter); long {
				return tooLong(&b), nil
			}
			return token{kind: tKeyword, text: b.String()}, nil
		default:
			return token{kind: tError, text: string([]byte{c})}, nil
		}
	}
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

// tooLong is the error token of a token that outgrew MaxMessageSize: its
// first 16 bytes.
func tooLong(b *strings.Builder) token { return token{kind: tError, text: b.String()[:16]} }

// readRun appends to b the bytes that follow while in holds and leaves the
// first other byte unread. eof: the input ended (any read error); long: the
// token outgrew MaxMessageSize, the caller's error.
func (d *Decoder) readRun(b *strings.Builder, in func(byte) bool) (eof, long bool) {
	for {
		c, err := d.r.ReadByte()
		if err != nil {
			return true, false
		}
		if !in(c) {
			_ = d.r.UnreadByte()
			return false, false
		}
		b.WriteByte(c)
		if b.Len() > MaxMessageSize {
			return false, true
		}
	}
}

func (d *Decoder) lexString(q byte) (token, error) {
	var b strings.Builder
	b.WriteByte(q)
	for {
		// copy the run of ordinary bytes already buffered in one go
		if n := d.r.Buffered(); n > 0 {
			buf, _ := d.r.Peek(n)
			i := 0
			for i < len(buf) && buf[i] >= 0x20 && buf[i] != q && buf[i] != '\\' {
				i++
			}
			if i > 0 {
				b.Write(buf[:i])
				_, _ = d.r.Discard(i)
				if b.Len() > MaxMessageSize {
					return tooLong(&b), nil
				}
				continue
			}
		}
		c, err := d.r.ReadByte()
		if err != nil {
			return token{}, err
		}
		b.WriteByte(c)
		if c < 0x20 {
			// a control character ends the string in error (json-lexer.c)
			return token{kind: tError, text: b.String()}, nil
		}
		if b.Len() > MaxMessageSize {
			return tooLong(&b), nil
		}
		if c == q {
			return token{kind: tString, text: b.String()}, nil
		}
		if c == '\\' {
			// the escaped byte, whatever it is, except a control character
			if c, err = d.r.ReadByte(); err != nil {
				return token{}, err
			}
			b.WriteByte(c)
			if c < 0x20 {
				return token{kind: tError, text: b.String()}, nil
			}
		}
	}
}

func (d *Decoder) lexNumber(first byte) (token, error) {
	var b strings.Builder
	b.WriteByte(first)
	next := func() (byte, bool) {
		c, err := d.r.ReadByte()
		if err != nil {
			return 0, false
		}
		return c, true
	}
	text := func(k tokKind) token { return token{kind: k, text: b.String()} }
	// digit reads the digit that must come next; without one the token is
	// in error, the byte read (if any) included.
	digit := func() (byte, bool) {
		c, ok := next()
		if ok {
			b.WriteByte(c)
		}
		return c, ok && isDigit(c)
	}
	// digits reads a fraction's or an exponent's digits: the one it must
	// have, then the run; done: the token ends with them (tok).
	digits := func() (tok token, done bool) {
		if _, ok := digit(); !ok {
			return text(tError), true
		}
		if eof, long := d.readRun(&b, isDigit); long {
			return tooLong(&b), true
		} else if eof {
			return text(tFloat), true
		}
		return token{}, false
	}
	c := first
	if c == '-' {
		var ok bool
		if c, ok = digit(); !ok {
			return text(tError), nil
		}
	}
	// integer part
	if c == '0' {
		n, ok := next()
		if !ok {
			return text(tInt), nil
		}
		if isDigit(n) {
			b.WriteByte(n)
			return text(tError), nil
		}
		_ = d.r.UnreadByte()
	} else if eof, long := d.readRun(&b, isDigit); long {
		return tooLong(&b), nil
	} else if eof {
		return text(tInt), nil
	}
	kind := tInt
	n, ok := next()
	if !ok {
		return text(tInt), nil
	}
	if n == '.' {
		kind = tFloat
		b.WriteByte(n)
		if tok, done := digits(); done {
			return tok, nil
		}
		n, _ = next() // the byte readRun left unread
	}
	if n == 'e' || n == 'E' {
		kind = tFloat
		b.WriteByte(n)
		m, ok := next()
		if !ok {
			return text(tError), nil
		}
		if m == '+' || m == '-' {
			b.WriteByte(m)
		} else {
			_ = d.r.UnreadByte()
		}
		if tok, done := digits(); done {
			return tok, nil
		}
	} else {
		_ = d.r.UnreadByte()
	}
	return text(kind), nil
}

// parser is json-parser.c over one message's tokens.
type parser struct {
	toks []token
	pos  int
}

func (p *parser) peek() *token {
	if p.pos < len(p.toks) {
		return &p.toks[p.pos]
	}
	return nil
}

func perr(format string, args ...any) error { return &ParseError{Msg: fmt.Sprintf(format, args...)} }

func (p *parser) value() (any, error) {
	t := p.peek()
	if t == nil {
		return nil, perr("expecting value")
	}
	switch t.kind {
	case tLCurly:
		p.pos++
		return p.object()
	case tLSquare:
		p.pos++
		return p.array()
	case tString:
		p.pos++
		return unquote(t.text)
	case tInt:
		p.pos++
		return parseInt(t.text), nil
	case tFloat:
		p.pos++
		f, _ := strconv.ParseFloat(t.text, 64)
		return Number{Kind: NumDouble, F: f}, nil
	case tKeyword:
		p.pos++
		switch t.text {
		case "true":
			return true, nil
		case "false":
			return false, nil
		case "null":
			return nil, nil
		}
		return nil, perr("invalid keyword '%s'", t.text)
	}
	return nil, perr("expecting value")
}

func parseInt(s string) Number {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return Number{Kind: NumInt, I: i}
	}
	if u, err := strconv.ParseUint(s, 10, 64); err == nil {
		return Number{Kind: NumUint, U: u}
	}
	f, _ := strconv.ParseFloat(s, 64)
	return Number{Kind: NumDouble, F: f}
}

func (p *parser) object() (any, error) {
	o := NewObject()
	err := p.members(tRCurly, "expected separator in dict", func() error {
		// json-parser.c parse_pair parses the key as any value first.
		kv, err := p.value()
		if err != nil {
			return err
		}
		k, ok := kv.(string)
		if !ok {
			return perr("key is not a string in object")
		}
		if c := p.peek(); c == nil || c.kind != tColon {
			return perr("missing : in object pair")
		}
		p.pos++
		v, err := p.value()
		if err != nil {
			return err
		}
		if _, dup := o.M[k]; dup {
			return perr("duplicate key")
		}
		o.Set(k, v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}

func (p *parser) array() (any, error) {
	l := []any{}
	err := p.members(tRSquare, "expected separator in list", func() error {
		v, err := p.value()
		l = append(l, v)
		return err
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// members parses an object's pairs or an array's values, each with member,
// up to the closing token end; sepErr is json-parser.c's text for anything
// else between two members.
func (p *parser) members(end tokKind, sepErr string, member func() error) error {
	if t := p.peek(); t != nil && t.kind == end {
		p.pos++
		return nil
	}
	for {
		if err := member(); err != nil {
			return err
		}
		t := p.peek()
		if t == nil {
			return perr("expecting value")
		}
		p.pos++
		if t.kind == end {
			return nil
		}
		if t.kind != tComma {
			return perr("%s", sepErr)
		}
	}
}

// unquote decodes a single- or double-quoted QEMU JSON string.
func unquote(raw string) (string, error) {
	s := raw[1 : len(raw)-1]
	if strings.IndexByte(s, '\\') < 0 && utf8.ValidString(s) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size <= 1 {
				return "", perr("invalid UTF-8 sequence in string")
			}
			b.WriteString(s[i : i+size])
			i += size
			continue
		}
		i++
		if i >= len(s) {
			return "", perr("invalid escape sequence in string")
		}
		e := s[i]
		i++
		switch e {
		case '"', '\'', '\\', '/':
			b.WriteByte(e)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			esc := s[i-2 : min(i+4, len(s))]
			r, n, err := hex4(s[i:])
			if err != nil {
				return "", err
			}
			i += n
			if utf16.IsSurrogate(r) {
				// QEMU quotes the escape as written
				if r >= 0xDC00 || i+1 >= len(s) || s[i] != '\\' || s[i+1] != 'u' {
					return "", perr("%s is not a valid Unicode character", esc)
				}
				lo, n2, err := hex4(s[i+2:])
				if err != nil {
					return "", err
				}
				rr := utf16.DecodeRune(r, lo)
				if rr == utf8.RuneError {
					return "", perr("%s is not a valid Unicode character", esc)
				}
				i += 2 + n2
				r = rr
			}
			b.WriteRune(r)
		default:
			return "", perr("invalid escape sequence in string")
		}
	}
	return b.String(), nil
}

func hex4(s string) (rune, int, error) {
	if len(s) < 4 {
		return 0, 0, perr("invalid hex escape sequence in string")
	}
	v, err := strconv.ParseUint(s[:4], 16, 32)
	if err != nil {
		return 0, 0, perr("invalid hex escape sequence in string")
	}
	return rune(v), 4, nil
}

// ParseValue parses one complete JSON text into a QMP value.
func ParseValue(b []byte) (any, error) {
	d := NewDecoder(strings.NewReader(string(b)))
	v, err := d.Next()
	if errors.Is(err, io.EOF) {
		return nil, perr("expecting value")
	}
	return v, err
}

// Encode writes v the way QEMU's JSON writer does (compact, ", " and ": "
// separators, non-ASCII escaped). Values that are not QMP values (structs,
// maps, typed slices) go through encoding/json first, which keeps struct
// fields in declaration order and sorts map keys.
func Encode(v any) []byte {
	var b strings.Builder
	encode(&b, v)
	return []byte(b.String())
}

func encode(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case string:
		writeString(b, x)
	case int:
		b.WriteString(strconv.FormatInt(int64(x), 10))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case uint64:
		b.WriteString(strconv.FormatUint(x, 10))
	case float64:
		writeFloat(b, x)
	case Number:
		switch x.Kind {
		case NumInt:
			b.WriteString(strconv.FormatInt(x.I, 10))
		case NumUint:
			b.WriteString(strconv.FormatUint(x.U, 10))
		default:
			writeFloat(b, x.F)
		}
	case *Object:
		b.WriteByte('{')
		for i, k := range x.Keys {
			if i > 0 {
				b.WriteString(", ")
			}
			writeString(b, k)
			b.WriteString(": ")
			encode(b, x.M[k])
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			encode(b, e)
		}
		b.WriteByte(']')
	case map[string]any:
		keys := slices.Sorted(maps.Keys(x))
		o := NewObject()
		for _, k := range keys {
			o.Set(k, x[k])
		}
		encode(b, o)
	default:
		raw, err := json.Marshal(v)
		if err != nil {
			b.WriteString("null")
			return
		}
		pv, err := ParseValue(raw)
		if err != nil {
			b.WriteString("null")
			return
		}
		encode(b, pv)
	}
}

func writeFloat(b *strings.Builder, f float64) {
	switch {
	case math.IsInf(f, 1):
		b.WriteString("inf")
	case math.IsInf(f, -1):
		b.WriteString("-inf")
	case math.IsNaN(f):
		b.WriteString("nan")
	default:
		b.WriteString(strconv.FormatFloat(f, 'g', 17, 64))
	}
}

func writeString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for len(s) > 0 {
		// the run of bytes that need no escaping, written at once
		i := 0
		for i < len(s) && s[i] >= 0x20 && s[i] < 0x7F && s[i] != '"' && s[i] != '\\' {
			i++
		}
		b.WriteString(s[:i])
		s = s[i:]
		if len(s) == 0 {
			break
		}
		r, size := utf8.DecodeRuneInString(s)
		s = s[size:]
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r >= 0x7F:
			if r > 0xFFFF {
				hi, lo := utf16.EncodeRune(r)
				fmt.Fprintf(b, `\u%04X\u%04X`, hi, lo)
			} else {
				fmt.Fprintf(b, `\u%04X`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}
