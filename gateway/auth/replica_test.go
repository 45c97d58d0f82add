package auth

import (
	"errors"
	"testing"
	"time"
)

// TestApplyMerge: records from other replicas replace older ones, never
// newer ones, and never undo a revocation; OnChange reports local
// changes only.
func TestApplyMerge(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	a, doneA := openStore(t, t.TempDir(), StoreOptions{Now: clk.now})
	defer doneA()
	b, doneB := openStore(t, t.TempDir(), StoreOptions{Now: clk.now})
	defer doneB()
	var sent []Record
	a.OnChange(func(r Record) { sent = append(sent, r) })
	var bChanges int
	b.OnChange(func(Record) { bChanges++ })

	k, secret, err := a.Create(Spec{Name: "x", Tenant: "t"})
	if err != nil || len(sent) != 1 {
		t.Fatal(err, len(sent))
	}
	if n, bad, err := b.Apply(sent); n != 1 || bad != 0 || err != nil {
		t.Fatal(n, bad, err)
	}
	if p, err := b.Authenticate(secret); err != nil || p.KeyID() != k.ID || p.Tenant != "t" {
		t.Fatal(p, err)
	}
	if bChanges != 0 {
		t.Fatal("Apply called OnChange")
	}
	created := sent[0]
	clk.add(time.Second)
	var p Patch
	p.Name = Field[string]{Set: true, Value: "renamed"}
	if _, err := a.Update(k.ID, &p); err != nil {
		t.Fatal(err)
	}
	renamed := sent[1]
	clk.add(time.Second)
	if _, err := a.Revoke(k.ID); err != nil {
		t.Fatal(err)
	}
	revoked := sent[2]

	// Out of order: the revocation first, then the older records.
	if n, _, _ := b.Apply([]Record{revoked}); n != 1 {
		t.Fatal("revocation not applied")
	}
	if n, _, _ := b.Apply([]Record{renamed, created}); n != 0 {
		t.Fatal("an older record replaced a revocation")
	}
	if _, err := b.Authenticate(secret); !errors.Is(err, ErrRevoked) {
		t.Fatal(err)
	}
	// A revocation is final even against a later change made elsewhere
	// on a stale copy.
	var later Patch
	later.Name = Field[string]{Set: true, Value: "later"}
	c, doneC := openStore(t, t.TempDir(), StoreOptions{Now: clk.now})
	defer doneC()
	c.Apply([]Record{renamed})
	var fromC []Record
	c.OnChange(func(r Record) { fromC = append(fromC, r) })
	clk.add(time.Second)
	if _, err := c.Update(k.ID, &later); err != nil {
		t.Fatal(err)
	}
	if Supersedes(fromC[0], revoked) || !Supersedes(revoked, fromC[0]) {
		t.Fatal("a change made after a revocation elsewhere undoes it")
	}
	if n, _, _ := b.Apply(fromC); n != 0 {
		t.Fatal("un-revoked")
	}
	// Unreadable records and an id moving to another secret are skipped.
	bad := Record{JSON: []byte("{")}
	moved := revoked
	moved.Hash[0] ^= 1
	if n, nbad, _ := b.Apply([]Record{bad, moved}); n != 0 || nbad != 2 {
		t.Fatal(n, nbad)
	}
	if len(b.Records()) != 1 || b.Records()[0].Hash != revoked.Hash {
		t.Fatal("records")
	}
}
