package hnsw

// item is a node and its similarity to the query.
type item struct {
	sim  float32
	node uint32
}

// maxHeap is a binary heap with the most similar item on top: the
// candidates still to expand. It is typed, so pushes and pops do not box.
type maxHeap []item

func (h *maxHeap) push(it item) {
	s := append(*h, it)
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p].sim >= it.sim {
			break
		}
		s[i] = s[p]
		i = p
	}
	s[i] = it
	*h = s
}

func (h *maxHeap) pop() item {
	s := *h
	top := s[0]
	n := len(s) - 1
	last := s[n]
	s = s[:n]
	i := 0
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && s[c+1].sim > s[c].sim {
			c++
		}
		if last.sim >= s[c].sim {
			break
		}
		s[i] = s[c]
		i = c
	}
	if n > 0 {
		s[i] = last
	}
	*h = s
	return top
}

// minHeap is a binary heap with the least similar item on top: the best
// results so far, whose worst is evicted when a better one arrives.
type minHeap []item

func (h *minHeap) push(it item) {
	s := append(*h, it)
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p].sim <= it.sim {
			break
		}
		s[i] = s[p]
		i = p
	}
	s[i] = it
	*h = s
}

func (h *minHeap) pop() item {
	s := *h
	top := s[0]
	n := len(s) - 1
	last := s[n]
	s = s[:n]
	i := 0
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && s[c+1].sim < s[c].sim {
			c++
		}
		if last.sim <= s[c].sim {
			break
		}
		s[i] = s[c]
		i = c
	}
	if n > 0 {
		s[i] = last
	}
	*h = s
	return top
}

// drainSorted empties h into dst, most similar first.
func (h *minHeap) drainSorted(dst []item) []item {
	n := len(*h)
	start := len(dst)
	dst = append(dst, make([]item, n)...)
	for i := n - 1; i >= 0; i-- {
		dst[start+i] = h.pop()
	}
	return dst
}
