package embed_test

import (
	"context"
	"fmt"
	"log"

	"github.com/semgate/semgate/embed"
)

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// The default embedder: lexical, 512 dimensions, behind an LRU cache.
func Example() {
	e, err := embed.New(embed.Options{}) // or decoded from YAML
	if err != nil {
		log.Fatal(err)
	}
	v, err := e.Embed(context.Background(), []string{
		"What is Go?",
		"  what is GO  ",
		"How do I reset my password?",
		"How can I reset my password?",
		"What is the capital of France?",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.ID(), e.Dim())
	fmt.Printf("formatting only: %.2f\n", dot(v[0], v[1]))
	fmt.Printf("near duplicate:  %.2f\n", dot(v[2], v[3]))
	fmt.Printf("unrelated:       %.2f\n", dot(v[2], v[4]))
	// Output:
	// lexical-v1-512 512
	// formatting only: 1.00
	// near duplicate:  0.86
	// unrelated:       0.05
}
