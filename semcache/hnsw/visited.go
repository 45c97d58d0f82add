package hnsw

// visited marks the nodes one search has seen. Instead of clearing the
// marks per search it bumps an epoch: a node is visited when its mark
// equals the current epoch. The marks are cleared only when the epoch
// wraps, once every 65535 searches.
type visited struct {
	marks []uint16
	epoch uint16
}

// reset starts a search over n nodes.
func (v *visited) reset(n int) {
	if len(v.marks) < n {
		v.marks = make([]uint16, n+n/4)
		v.epoch = 0
	}
	v.epoch++
	if v.epoch == 0 {
		clear(v.marks)
		v.epoch = 1
	}
}

// visit marks node and reports whether it was unmarked.
func (v *visited) visit(node uint32) bool {
	if v.marks[node] == v.epoch {
		return false
	}
	v.marks[node] = v.epoch
	return true
}
