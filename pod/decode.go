package pod

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"syscall"

	yamlv2 "go.yaml.in/yaml/v2"
	"sigs.k8s.io/yaml"
)

// Load reads and decodes the manifest at path. It refuses anything but a
// regular file before reading (a FIFO would block forever, /dev/zero never
// ends) and reads at most MaxManifestBytes. Errors start with "parse <path>: ".
// Load does not apply defaults or validate; see the package doc.
func Load(path string) (*Pod, []Warning, error) {
	p, warnings, err := load(path)
	if err != nil {
		return nil, nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return p, warnings, nil
}

func load(path string) (*Pod, []Warning, error) {
	// Check the type before opening: opening a FIFO without O_NONBLOCK
	// blocks until a writer appears.
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if err := checkRegular(fi); err != nil {
		return nil, nil, err
	}
	if fi.Size() > MaxManifestBytes {
		return nil, nil, errTooLarge()
	}
	// O_NONBLOCK and the second check on the open file close the race with
	// the path being replaced by a FIFO or device after the Stat. It has no
	// effect on reads of a regular file.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, nil, err
	}
	if err := checkRegular(fi); err != nil {
		return nil, nil, err
	}
	// Read one byte more than the limit to tell "exactly at the limit" from
	// "over it"; the file may have grown since the Stat.
	data, err := io.ReadAll(io.LimitReader(f, MaxManifestBytes+1))
	if err != nil {
		return nil, nil, err
	}
	if len(data) > MaxManifestBytes {
		return nil, nil, errTooLarge()
	}
	return Decode(data)
}

func checkRegular(fi os.FileInfo) error {
	mode := fi.Mode()
	var what string
	switch {
	case mode.IsRegular():
		return nil
	case mode.IsDir():
		what = "a directory"
	case mode&os.ModeNamedPipe != 0:
		what = "a named pipe (FIFO)"
	case mode&os.ModeSocket != 0:
		what = "a socket"
	case mode&os.ModeDevice != 0:
		what = "a device"
	default:
		what = "not a regular file"
	}
	return fieldErrorf(ErrNotRegularFile, "", "is %s, expected a regular file with a pod manifest", what)
}

func errTooLarge() error {
	return fieldErrorf(ErrTooLarge, "", "pod spec too large (limit 1 MiB)")
}

// Decode decodes one Pod manifest, JSON if the first non-blank byte is '{',
// YAML otherwise. Decoding is strict: syntax errors give the line (and for
// JSON the column), unknown fields and wrong types are errors naming the
// field path, duplicate keys, data after the object and a second YAML
// document are errors. Fields Kubernetes has but sandbox does not support are
// returned as warnings. Decode neither defaults nor validates values (except
// apiVersion and kind). It returns either a pod or an error, never both.
func Decode(data []byte) (*Pod, []Warning, error) {
	if len(data) > MaxManifestBytes {
		return nil, nil, errTooLarge()
	}
	// A UTF-8 byte order mark, as some editors write, is not content.
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, nil, fieldErrorf(ErrEmpty, "", "empty manifest")
	}
	jsonData := data
	if trimmed[0] != '{' {
		var err error
		if jsonData, err = yamlToJSON(data); err != nil {
			return nil, nil, err
		}
	}
	tree, err := parseJSON(jsonData, trimmed[0] != '{')
	if err != nil {
		return nil, nil, err
	}
	if _, ok := tree.(object); !ok {
		return nil, nil, fieldErrorf(ErrWrongType, "", "expected a Pod object, got %s", describe(tree))
	}

	var d decoder
	p := new(Pod)
	d.decode("", tree, reflect.ValueOf(p).Elem())
	// apiVersion and kind go first: for a Deployment or a v2 object they
	// explain the unknown fields that follow.
	var all problems
	checkTypeMeta(&all, p)
	for _, err := range d.problems.errs {
		all.add(err)
	}
	all.dropped += d.problems.dropped
	if err := all.err(); err != nil {
		return nil, nil, err
	}
	return p, d.warnings, nil
}

// maxExpandedBytes caps the JSON that a YAML manifest converts to.
const maxExpandedBytes = 4 * MaxManifestBytes

// yamlToJSON converts a one-document YAML manifest to JSON.
func yamlToJSON(data []byte) ([]byte, error) {
	// sigs.k8s.io/yaml reads only the first document and silently ignores
	// the rest, so count the documents with the underlying parser first. The
	// parser caps nesting at 10000 and refuses excessive alias expansion, so
	// this pass stays bounded; parseJSON then applies MaxNesting.
	dec := yamlv2.NewDecoder(bytes.NewReader(data))
	dec.SetStrict(true) // duplicate keys are errors
	var first, second any
	if err := dec.Decode(&first); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fieldErrorf(ErrEmpty, "", "empty manifest: the YAML has no document")
		}
		return nil, yamlSyntaxError(err)
	}
	if first == nil {
		return nil, fieldErrorf(ErrEmpty, "", "empty manifest: the YAML document is empty")
	}
	switch err := dec.Decode(&second); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, yamlSyntaxError(err)
	default:
		return nil, fieldErrorf(ErrSyntax, "", "invalid YAML: one document expected, found a second one after \"---\"")
	}
	j, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, yamlSyntaxError(err)
	}
	// Aliases can make the JSON larger than the YAML. The parser already
	// refuses excessive aliasing; this bounds what the next passes get.
	if len(j) > maxExpandedBytes {
		return nil, fieldErrorf(ErrTooLarge, "", "pod spec too large: %d bytes once YAML aliases are expanded, limit %d", len(j), maxExpandedBytes)
	}
	return j, nil
}

func yamlSyntaxError(err error) error {
	// The YAML library says "yaml: line 3: ..." (no column).
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "error converting YAML to JSON: ")
	msg = strings.TrimPrefix(msg, "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n  ")
	return fieldErrorf(ErrSyntax, "", "invalid YAML: %s", msg)
}

// The generic tree parseJSON builds: object (members in document order),
// []any, string, json.Number, bool, or nil for null.
type object []member

type member struct {
	key string
	val any
}

// parseJSON parses one JSON value into a generic tree, in three passes over
// at most a few MiB: a nesting check that needs no memory, so a 1 MiB
// "[[[[..." is refused before anything is built; a syntax check, whose
// errors carry exact offsets (json.Decoder.Token's do not); and the tree
// itself, refusing duplicate keys, which encoding/json would silently
// resolve to the last one. fromYAML drops positions from errors, since they
// would point into the converted JSON, not into the user's file.
func parseJSON(data []byte, fromYAML bool) (any, error) {
	p := &jsonParser{data: data, fromYAML: fromYAML}
	if err := p.checkNesting(); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, new(json.RawMessage)); err != nil {
		if se, ok := errors.AsType[*json.SyntaxError](err); ok {
			// Offset counts the bytes read, including the offending
			// one. This also catches data after the object.
			return nil, p.errorAt(ErrSyntax, se.Offset-1, "invalid JSON: %s", se.Error())
		}
		return nil, fieldErrorf(ErrSyntax, "", "invalid JSON: %v", err)
	}
	p.dec = json.NewDecoder(bytes.NewReader(data))
	p.dec.UseNumber()
	return p.value()
}

type jsonParser struct {
	data     []byte
	fromYAML bool
	dec      *json.Decoder
}

// checkNesting refuses objects and arrays nested deeper than MaxNesting.
func (p *jsonParser) checkNesting() error {
	depth := 0
	inString, escaped := false, false
	for i, c := range p.data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > MaxNesting {
				return p.errorAt(ErrTooLarge, int64(i), "pod spec too large: nesting deeper than %d levels", MaxNesting)
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}

// value reads one value from syntactically valid JSON.
func (p *jsonParser) value() (any, error) {
	tok, err := p.dec.Token()
	if err != nil {
		return nil, p.tokenError(err)
	}
	switch tok {
	case json.Delim('{'):
		obj := object{}
		seen := map[string]bool{}
		for p.dec.More() {
			keyStart := skipBlank(p.data, p.dec.InputOffset(), ",")
			tok, err := p.dec.Token()
			if err != nil {
				return nil, p.tokenError(err)
			}
			key := tok.(string) // Token guarantees a string in key position
			if seen[key] {
				return nil, p.errorAt(ErrSyntax, keyStart, "invalid JSON: duplicate key %q", key)
			}
			seen[key] = true
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			obj = append(obj, member{key, v})
		}
		return obj, p.closing()
	case json.Delim('['):
		arr := []any{}
		for p.dec.More() {
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		return arr, p.closing()
	}
	return tok, nil // string, json.Number, bool or nil
}

// closing consumes the '}' or ']' that ends the current object or array.
func (p *jsonParser) closing() error {
	if _, err := p.dec.Token(); err != nil {
		return p.tokenError(err)
	}
	return nil
}

// tokenError handles an error from Token, which the syntax check should
// have made impossible.
func (p *jsonParser) tokenError(err error) error {
	return fieldErrorf(ErrSyntax, "", "invalid JSON: %v", err)
}

// errorAt returns an error that names the line and column of data[off],
// unless the JSON was converted from YAML.
func (p *jsonParser) errorAt(sentinel error, off int64, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if p.fromYAML {
		return fieldErrorf(sentinel, "", "%s", msg)
	}
	off = max(0, min(off, int64(len(p.data))))
	before := p.data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return fieldErrorf(sentinel, "", "%s at line %d, column %d", msg, line, col)
}

// skipBlank returns the offset of the first byte at or after off that is
// neither JSON whitespace nor in extra.
func skipBlank(data []byte, off int64, extra string) int64 {
	for off < int64(len(data)) {
		c := data[off]
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' && strings.IndexByte(extra, c) < 0 {
			break
		}
		off++
	}
	return off
}

// decoder fills the Go types from the generic tree. It is driven by the json
// tags of the types, so a field added to a type is decoded without further
// code; the fields Kubernetes has but sandbox does not are listed in
// unsupported.go.
type decoder struct {
	problems problems
	warnings []Warning
}

func (d *decoder) decode(path string, in any, v reflect.Value) {
	if d.decodeUnmarshaler(path, in, v) { // resource.Quantity: resources.go
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		obj, ok := in.(object)
		if !ok {
			d.wrongType(path, "object", in)
			return
		}
		for _, m := range obj {
			field, known := fieldByJSONName(v, m.key)
			switch {
			case known && m.val == nil:
				// null means absent, as in Kubernetes.
			case known:
				d.decode(joinPath(path, m.key), m.val, field)
			case isUnsupported(v.Type(), m.key):
				d.warnings = append(d.warnings, Warning{Path: joinPath(path, m.key), Message: "not supported, ignored"})
			default:
				d.problems.addf(ErrUnknownField, joinPath(path, m.key), "unknown field")
			}
		}
	case reflect.Pointer:
		elem := reflect.New(v.Type().Elem())
		d.decode(path, in, elem.Elem())
		v.Set(elem)
	case reflect.Slice:
		arr, ok := in.([]any)
		if !ok {
			d.wrongType(path, "array", in)
			return
		}
		s := reflect.MakeSlice(v.Type(), len(arr), len(arr))
		for i, elem := range arr {
			d.decode(path+"["+strconv.Itoa(i)+"]", elem, s.Index(i))
		}
		v.Set(s)
	case reflect.Map: // map[string]string: labels, annotations
		obj, ok := in.(object)
		if !ok {
			d.wrongType(path, "object", in)
			return
		}
		m := reflect.MakeMapWithSize(v.Type(), len(obj))
		for _, mem := range obj {
			elem := reflect.New(v.Type().Elem()).Elem()
			d.decode(path+"["+strconv.Quote(mem.key)+"]", mem.val, elem)
			m.SetMapIndex(reflect.ValueOf(mem.key), elem)
		}
		v.Set(m)
	case reflect.String:
		s, ok := in.(string)
		if !ok {
			d.wrongType(path, "string", in)
			return
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := in.(bool)
		if !ok {
			d.wrongType(path, "boolean", in)
			return
		}
		v.SetBool(b)
	case reflect.Int64:
		num, ok := in.(json.Number)
		if !ok {
			d.wrongType(path, "integer", in)
			return
		}
		n, err := strconv.ParseInt(string(num), 10, 64)
		if err != nil {
			d.problems.addf(ErrWrongType, path, "expected integer, got %s", describe(in))
			return
		}
		v.SetInt(n)
	default:
		// Only reachable by adding a field of a new kind to the types;
		// the tests decode every field.
		panic(fmt.Sprintf("pod: decoding %s is not implemented", v.Type()))
	}
}

func (d *decoder) wrongType(path, want string, got any) {
	d.problems.addf(ErrWrongType, path, "expected %s, got %s", want, describe(got))
}

// describe names the JSON type of a generic value for error messages.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if len(v) > 32 {
			return "number"
		}
		return "number " + string(v)
	case []any:
		return "array"
	case object:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// fieldByJSONName returns the field of struct v whose json tag name is
// exactly name. Unlike encoding/json, the match is case-sensitive, as in
// Kubernetes: "Command" is an unknown field, not command.
func fieldByJSONName(v reflect.Value, name string) (reflect.Value, bool) {
	t := v.Type()
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if tag == name {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

// joinPath appends a field name to a path. Names that are not plain
// identifiers are quoted: they come from the user and end up on a terminal.
func joinPath(path, name string) string {
	if !isPlainName(name) {
		name = "[" + strconv.Quote(name) + "]"
		return path + name
	}
	if path == "" {
		return name
	}
	return path + "." + name
}

func isPlainName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
