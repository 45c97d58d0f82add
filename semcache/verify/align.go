package verify

// Alignment: a shortest edit script between two key sequences (Myers'
// O((N+M)·D) algorithm, "An O(ND) Difference Algorithm and Its Variations",
// 1986), so that prompts of any length are compared whole and the cost
// grows with the number of differences, not with the prompts' length.

// edit is one step of an alignment.
type edit struct {
	op   byte // '=' match, '-' only in a, '+' only in b
	i, j int  // positions in a and b (for '-', j is where b is; for '+', i is where a is)
}

// aligner keeps scratch space between calls.
type aligner struct {
	v     []int
	trace [][]int
	flat  []int // backing store of trace
	edits []edit
	rev   []edit
}

// align returns the edit script turning a into b, or ok=false when more
// than maxD insertions and deletions would be needed.
func (al *aligner) align(a, b []string, maxD int) ([]edit, bool) {
	n, m := len(a), len(b)
	// Common prefix and suffix need no search.
	pre := 0
	for pre < n && pre < m && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < n-pre && suf < m-pre && a[n-1-suf] == b[m-1-suf] {
		suf++
	}
	edits := al.edits[:0]
	for k := 0; k < pre; k++ {
		edits = append(edits, edit{'=', k, k})
	}
	ma, mb := a[pre:n-suf], b[pre:m-suf]
	mid, ok := al.middle(ma, mb, maxD)
	if !ok {
		al.edits = edits
		return nil, false
	}
	for _, e := range mid {
		e.i += pre
		e.j += pre
		edits = append(edits, e)
	}
	for k := 0; k < suf; k++ {
		edits = append(edits, edit{'=', n - suf + k, m - suf + k})
	}
	al.edits = edits
	return edits, true
}

// middle runs Myers' greedy search with a trace for the backtrack.
func (al *aligner) middle(a, b []string, maxD int) ([]edit, bool) {
	n, m := len(a), len(b)
	if n == 0 || m == 0 {
		if n+m > maxD {
			return nil, false
		}
		out := make([]edit, 0, n+m)
		for i := 0; i < n; i++ {
			out = append(out, edit{'-', i, 0})
		}
		for j := 0; j < m; j++ {
			out = append(out, edit{'+', n, j})
		}
		return out, true
	}
	max := min(n+m, maxD)
	off := max + 1
	if cap(al.v) < 2*max+3 {
		al.v = make([]int, 2*max+3)
	}
	v := al.v[:2*max+3]
	clear(v)
	trace := al.trace[:0]
	flat := al.flat[:0]
	found := -1
	for d := 0; d <= max; d++ {
		if cap(flat)-len(flat) < 2*d+1 {
			// A new backing array; earlier snapshots keep the old one.
			flat = make([]int, 0, 2*cap(flat)+2*d+1)
		}
		snap := flat[len(flat) : len(flat)+2*d+1]
		flat = flat[:len(flat)+2*d+1]
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				x = v[off+k+1]
			} else {
				x = v[off+k-1] + 1
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[off+k] = x
			if x >= n && y >= m {
				found = d
			}
		}
		for k := -d; k <= d; k++ {
			snap[k+d] = v[off+k]
		}
		trace = append(trace, snap)
		if found >= 0 {
			break
		}
	}
	al.trace, al.flat = trace, flat
	if found < 0 {
		return nil, false
	}
	// Backtrack from (n, m) through each round's furthest points.
	rev := al.rev[:0]
	x, y := n, m
	for d := found; d > 0; d-- {
		prev := trace[d-1]
		get := func(k int) int { return prev[k+d-1] }
		k := x - y
		var pk int
		if k == -d || (k != d && get(k-1) < get(k+1)) {
			pk = k + 1 // came down: b[py] inserted
		} else {
			pk = k - 1 // came right: a[px] deleted
		}
		px := get(pk)
		py := px - pk
		sx, sy := px, py+1 // where the snake started
		if pk == k-1 {
			sx, sy = px+1, py
		}
		for x > sx && y > sy {
			x--
			y--
			rev = append(rev, edit{'=', x, y})
		}
		if pk == k+1 {
			rev = append(rev, edit{'+', px, py})
		} else {
			rev = append(rev, edit{'-', px, py})
		}
		x, y = px, py
	}
	for x > 0 && y > 0 {
		x--
		y--
		rev = append(rev, edit{'=', x, y})
	}
	al.rev = rev
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	return rev, true
}
