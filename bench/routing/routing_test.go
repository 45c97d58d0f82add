package routing

import (
	"context"
	"strings"
	"testing"
)

func TestWorkloadScoresSeparateTiers(t *testing.T) {
	hardHigh, easyLow, hard, easy := 0, 0, 0, 0
	for _, p := range Workload(Options{Requests: 500}) {
		if p.Hard {
			hard++
			if p.Score >= 0.3 {
				hardHigh++
			}
		} else {
			easy++
			if p.Score < 0.3 {
				easyLow++
			}
		}
	}
	// One hard template (a long report with no code or math) scores 0.235:
	// at 0.3 it goes to the cheap tier, which the benchmark reports.
	if easyLow != easy || float64(hardHigh) < 0.75*float64(hard) {
		t.Fatalf("threshold 0.3 separates %d/%d hard and %d/%d easy prompts", hardHigh, hard, easyLow, easy)
	}
}

func TestRunSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two gateways")
	}
	rep, err := Run(context.Background(), Options{Requests: 150, Concurrency: 4, FaultRate: 0.05, Faults: []string{"429", "500", "503", "reset", "malformed"}, StreamShare: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	auto, strong := rep.Results[0], rep.Results[1]
	if auto.SuccessRate < 0.97 || strong.SuccessRate < 0.97 {
		t.Fatalf("success auto %.3f strong %.3f: %+v", auto.SuccessRate, strong.SuccessRate, rep.Results)
	}
	if rep.Saving <= 0.3 || auto.TierShares["mock-small"] < 0.5 || strong.TierShares["mock-large"] != 1 {
		t.Fatalf("saving %.2f shares %v %v", rep.Saving, auto.TierShares, strong.TierShares)
	}
	var b strings.Builder
	WriteMarkdown(&b, rep)
	if !strings.Contains(b.String(), "| auto |") {
		t.Fatal(b.String())
	}
}
