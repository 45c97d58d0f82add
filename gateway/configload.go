package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// LoadConfig reads, expands and validates the YAML configuration at path.
// Unknown keys are errors. "${NAME}" in any string value is replaced by the
// environment variable NAME ("${NAME:-default}" gives a default, "$$" is a
// literal "$"). Every problem is reported at once, with line numbers, as a
// *ConfigError.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("gateway: read config: %w", err)
	}
	cfg, err := ParseConfig(data, os.LookupEnv)
	var ce *ConfigError
	if errors.As(err, &ce) {
		ce.File = path
	}
	return cfg, err
}

// ParseConfig is LoadConfig on bytes, with lookup resolving ${NAME}.
func ParseConfig(data []byte, lookup func(string) (string, bool)) (*Config, error) {
	cfg := &Config{}
	var ps problems
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, msg := range te.Errors {
				ps = append(ps, Problem{Message: msg})
			}
		} else {
			ps = append(ps, Problem{Message: err.Error()})
			return nil, &ConfigError{Problems: ps}
		}
	}
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root)

	missing := expandEnv(reflect.ValueOf(cfg).Elem(), "", lookup)
	for _, m := range missing {
		if isOptionalKey(cfg, m.path) {
			continue // an optional provider without a key is disabled, not wrong
		}
		ps = append(ps, Problem{Path: m.path, Message: fmt.Sprintf("environment variable %s is not set", m.name)})
	}
	if err := cfg.Validate(); err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			ps = append(ps, ce.Problems...)
		}
	}
	if len(ps) > 0 {
		for i := range ps {
			if ps[i].Line == 0 && ps[i].Path != "" {
				ps[i].Line = lineOf(&root, ps[i].Path)
			}
		}
		return nil, &ConfigError{Problems: ps}
	}
	return cfg, nil
}

// isOptionalKey reports whether path is the api_key of an optional
// provider, or the admin token (unset, the admin API is loopback-only).
func isOptionalKey(cfg *Config, path string) bool {
	if path == "auth.admin_token" {
		return true
	}
	for i, p := range cfg.Providers {
		if p.Optional && path == "providers["+strconv.Itoa(i)+"].api_key" {
			return true
		}
	}
	return false
}

type missingVar struct{ path, name string }

// expandEnv replaces ${NAME} in every string reachable from v, returning
// the variables that were not set.
func expandEnv(v reflect.Value, path string, lookup func(string) (string, bool)) []missingVar {
	var out []missingVar
	switch v.Kind() {
	case reflect.String:
		s, miss := expandString(v.String(), lookup)
		if v.CanSet() {
			v.SetString(s)
		}
		for _, name := range miss {
			out = append(out, missingVar{path, name})
		}
	case reflect.Pointer:
		if !v.IsNil() {
			out = append(out, expandEnv(v.Elem(), path, lookup)...)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			out = append(out, expandEnv(v.Index(i), path+"["+strconv.Itoa(i)+"]", lookup)...)
		}
	case reflect.Map:
		if v.Type().Elem().Kind() != reflect.String || v.Type().Key().Kind() != reflect.String {
			return nil
		}
		keys := v.MapKeys()
		// Sorted so problems come out in a stable order.
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			s, miss := expandString(v.MapIndex(k).String(), lookup)
			v.SetMapIndex(k, reflect.ValueOf(s).Convert(v.Type().Elem()))
			for _, name := range miss {
				out = append(out, missingVar{join(path, k.String()), name})
			}
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, inline := yamlName(f)
			if name == "-" {
				continue
			}
			sub := path
			if !inline {
				sub = join(path, name)
			}
			out = append(out, expandEnv(v.Field(i), sub, lookup)...)
		}
	}
	return out
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func yamlName(f reflect.StructField) (name string, inline bool) {
	tag := f.Tag.Get("yaml")
	name, opts, _ := strings.Cut(tag, ",")
	if strings.Contains(opts, "inline") {
		return "", true
	}
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name, false
}

// expandString expands ${NAME}, ${NAME:-default} and $$.
func expandString(s string, lookup func(string) (string, bool)) (string, []string) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	var missing []string
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String(), missing
			}
			expr := s[i+2 : i+2+end]
			name, def, hasDef := strings.Cut(expr, ":-")
			val, ok := lookup(name)
			switch {
			case ok && val != "":
				b.WriteString(val)
			case hasDef:
				b.WriteString(def)
			default:
				missing = append(missing, name)
			}
			i += 2 + end
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), missing
}

// lineOf finds the line of the YAML node at path ("a.b[2].c"), or of its
// nearest existing ancestor.
func lineOf(root *yaml.Node, path string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, seg := range splitPath(path) {
		var next *yaml.Node
		switch {
		case seg.index >= 0 && n.Kind == yaml.SequenceNode && seg.index < len(n.Content):
			next = n.Content[seg.index]
		case seg.index < 0 && n.Kind == yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == seg.key {
					line = n.Content[i].Line
					next = n.Content[i+1]
					break
				}
			}
		}
		if next == nil {
			return line
		}
		n = next
		if n.Kind != yaml.ScalarNode || line == 0 {
			line = n.Line
		}
	}
	return line
}

type pathSeg struct {
	key   string
	index int
}

func splitPath(path string) []pathSeg {
	var segs []pathSeg
	for _, part := range strings.Split(path, ".") {
		for part != "" {
			open := strings.IndexByte(part, '[')
			if open < 0 {
				segs = append(segs, pathSeg{key: part, index: -1})
				break
			}
			if open > 0 {
				segs = append(segs, pathSeg{key: part[:open], index: -1})
			}
			closeIdx := strings.IndexByte(part, ']')
			if closeIdx < open {
				break
			}
			n, err := strconv.Atoi(part[open+1 : closeIdx])
			if err != nil {
				break
			}
			segs = append(segs, pathSeg{index: n})
			part = part[closeIdx+1:]
		}
	}
	return segs
}
