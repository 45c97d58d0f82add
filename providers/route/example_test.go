package route_test

import (
	"fmt"

	"github.com/semgate/semgate/providers"
	"github.com/semgate/semgate/providers/route"
)

func Example() {
	eng, _ := route.New(route.Options{Seed: 1})
	model := &providers.Model{Name: "chat", Deployments: []*providers.Deployment{
		{ProviderName: "openai", Model: "gpt-4o"},      // prices and window from the shipped table
		{ProviderName: "openai", Model: "gpt-4o-mini"}, // cheaper
	}}
	pool, _ := eng.AddPool(model, route.PoolOptions{}, nil)

	body := []byte(`{"model":"chat","messages":[{"role":"user","content":"Hello!"}]}`)
	plan, _ := pool.Plan(route.Inspect(providers.EndpointChat, body))
	m, wait, _ := plan.Next()
	fmt.Println(plan.Reason)
	fmt.Println(m.Label(), wait)
	if plan.Begin(m) {
		plan.Succeeded(m, 0) // or plan.Failed(m, err), then plan.Next() again
	}

	score := route.Difficulty(route.Inspect(providers.EndpointChat,
		[]byte(`{"messages":[{"role":"user","content":"Solve 3x^2 + 2x = 7 step by step."}]}`)))
	fmt.Println(score.Value, score.Signals)
	// Output:
	// cost: cheapest of 2 eligible
	// openai/gpt-4o-mini 0s
	// 0.475 [math multi-step]
}
