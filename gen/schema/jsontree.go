package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// node is a JSON value with its byte offset in the file, so that schema
// errors can name the line and column as well as the JSON path.
type node struct {
	off  int
	kind byte // '{', '[', 's' string, 'n' number, 'b' bool, 'z' null
	str  string
	keys []string // object keys in file order
	obj  map[string]*node
	arr  []*node
}

func (n *node) field(k string) *node {
	if n == nil || n.kind != '{' {
		return nil
	}
	return n.obj[k]
}

func (n *node) describe() string {
	s := n.json()
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

// text is a string's value or a number's digits; "" for a nil node.
func (n *node) text() string {
	if n == nil {
		return ""
	}
	return n.str
}

// json writes the node back as compact JSON, keys in file order.
func (n *node) json() string {
	switch n.kind {
	case '{':
		parts := make([]string, len(n.keys))
		for i, k := range n.keys {
			parts[i] = strconv.Quote(k) + ":" + n.obj[k].json()
		}
		return "{" + strings.Join(parts, ",") + "}"
	case '[':
		parts := make([]string, len(n.arr))
		for i, v := range n.arr {
			parts[i] = v.json()
		}
		return "[" + strings.Join(parts, ",") + "]"
	case 's':
		return strconv.Quote(n.str)
	case 'n':
		return n.str
	case 'b':
		if n.str == "true" {
			return "true"
		}
		return "false"
	}
	return "null"
}

// parseTree parses JSON into nodes that remember where they start.
func parseTree(data []byte) (*node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	p := treeParser{data: data, dec: dec}
	n, err := p.value()
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &jsonError{off: p.start(), msg: "unexpected data after the schema"}
	}
	return n, nil
}

type jsonError struct {
	off int
	msg string
}

func (e *jsonError) Error() string { return e.msg }

type treeParser struct {
	data []byte
	dec  *json.Decoder
}

// start is the offset of the next token: the decoder's offset is just past
// the previous one, before any white space, ':' or ','.
func (p *treeParser) start() int {
	off := int(p.dec.InputOffset())
	for off < len(p.data) {
		switch p.data[off] {
		case ' ', '\t', '\r', '\n', ':', ',':
			off++
			continue
		}
		break
	}
	return off
}

func (p *treeParser) value() (*node, error) {
	off := p.start()
	tok, err := p.dec.Token()
	if err != nil {
		if se, ok := err.(*json.SyntaxError); ok {
			return nil, &jsonError{off: int(se.Offset), msg: "invalid JSON: " + se.Error()}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, &jsonError{off: len(p.data), msg: "invalid JSON: unexpected end of file"}
		}
		return nil, &jsonError{off: off, msg: "invalid JSON: " + err.Error()}
	}
	n := &node{off: off}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n.kind = '{'
			n.obj = map[string]*node{}
			for p.dec.More() {
				koff := p.start()
				kt, err := p.dec.Token()
				if err != nil {
					return nil, &jsonError{off: koff, msg: "invalid JSON: " + err.Error()}
				}
				k, _ := kt.(string)
				v, err := p.value()
				if err != nil {
					return nil, err
				}
				if _, dup := n.obj[k]; dup {
					return nil, &jsonError{off: koff, msg: fmt.Sprintf("duplicate key %q", k)}
				}
				n.keys = append(n.keys, k)
				n.obj[k] = v
			}
		case '[':
			n.kind = '['
			for p.dec.More() {
				v, err := p.value()
				if err != nil {
					return nil, err
				}
				n.arr = append(n.arr, v)
			}
		default:
			return nil, &jsonError{off: off, msg: fmt.Sprintf("invalid JSON: unexpected %q", rune(t))}
		}
		if _, err := p.dec.Token(); err != nil { // closing delimiter
			return nil, &jsonError{off: p.start(), msg: "invalid JSON: " + err.Error()}
		}
	case string:
		n.kind, n.str = 's', t
	case json.Number:
		n.kind, n.str = 'n', t.String()
	case bool:
		n.kind = 'b'
		if t {
			n.str = "true"
		}
	case nil:
		n.kind = 'z'
	}
	return n, nil
}

// lineCol turns a byte offset into a 1-based line and column.
func lineCol(data []byte, off int) (int, int) {
	if off > len(data) {
		off = len(data)
	}
	line := 1 + bytes.Count(data[:off], []byte{'\n'})
	col := off - bytes.LastIndexByte(data[:off], '\n')
	return line, col
}
