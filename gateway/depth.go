package gateway

// maxJSONDepth bounds nesting in request bodies; deeper documents are
// rejected before any recursive parser sees them.
const maxJSONDepth = 256

// tooDeep reports whether the JSON text b nests arrays and objects deeper
// than max. It tracks strings so brackets inside them do not count.
func tooDeep(b []byte, max int) bool {
	depth := 0
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			depth++
			if depth > max {
				return true
			}
		case ']', '}':
			depth--
		}
	}
	return false
}
