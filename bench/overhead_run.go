package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/semgate/semgate/bench/internal/harness"
)

// modeRunner runs the wrk runs of one mode against its stack.
type modeRunner struct {
	m    mode
	opts *overheadOptions
	st   *stack
}

// measureMode starts one mode's processes, warms every target up, runs the
// rounds and stops the processes.
func measureMode(ctx context.Context, m mode, opts *overheadOptions, w *harness.Wrk, spec stackSpec) (*modeResult, error) {
	logf("mode %s: starting mock (ttft %v), bare proxy and semgate serve", m.name, m.ttft)
	st, err := startStack(ctx, spec)
	if err != nil {
		return nil, err
	}
	defer st.stop()

	mr := &modeResult{Name: m.name, About: m.about, MockTTFT: m.ttft.String()}
	mrun := &modeRunner{m: m, opts: opts, st: st}
	if opts.Warmup > 0 {
		warm := *w
		warm.Duration = opts.Warmup
		for i, target := range targetNames {
			r, err := mrun.run(ctx, 0, i, target, &warm)
			if err != nil {
				return nil, err
			}
			mr.Warmup = append(mr.Warmup, *r)
		}
	}
	for round := 1; round <= opts.Rounds; round++ {
		for slot, target := range rotate(targetNames, round-1) {
			r, err := mrun.run(ctx, round, slot, target, w)
			if err != nil {
				return nil, err
			}
			mr.Runs = append(mr.Runs, *r)
		}
	}
	return mr, nil
}

// run measures target once, or with --wait-quiet waits for a quiet machine
// first and redoes a run that other work disturbed (the last attempt is
// kept). Round 0 is the warm-up.
func (mrun *modeRunner) run(ctx context.Context, round, slot int, target string, w *harness.Wrk) (*runResult, error) {
	wait := mrun.opts.WaitQuiet
	if wait <= 0 {
		return mrun.once(ctx, round, slot, target, w)
	}
	var r *runResult
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		share, err := harness.WaitQuiet(ctx, disturbedPct/100, time.Second, wait, mrun.st.group.Pids()...)
		if err != nil {
			return nil, fmt.Errorf("wait for a quiet machine: %w", err)
		}
		if share > disturbedPct/100 {
			logf("  machine still busy after %v (other work %.0f%% of the CPU); running anyway", wait, 100*share)
		}
		if r, err = mrun.once(ctx, round, slot, target, w); err != nil {
			return nil, err
		}
		r.Attempts = attempt
		if r.OtherCPUPct <= disturbedPct {
			break
		}
		if attempt < maxAttempts {
			logf("  run disturbed by other work (%.0f%% of the CPU); redoing it", r.OtherCPUPct)
		}
	}
	return r, nil
}

// once runs wrk against target, measures the CPU other work took meanwhile,
// and pauses briefly before the next run.
func (mrun *modeRunner) once(ctx context.Context, round, slot int, target string, w *harness.Wrk) (*runResult, error) {
	meter, meterErr := harness.StartCPUMeter(mrun.st.group.Pids()...)
	res, out, err := w.Run(ctx, mrun.st.urls[target])
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil, err
		}
		return nil, fmt.Errorf("%s: %w\n%s", target, err, out)
	}
	r := newRunResult(round, slot, target, res)
	if meterErr == nil {
		if share, err := meter.Stop(res.CPU); err == nil {
			r.OtherCPUPct = 100 * share
		}
	}
	tag := fmt.Sprintf("round %d/%d", round, mrun.opts.Rounds)
	if round == 0 {
		tag = "warm-up"
	}
	logf("  %s %-10s %-8s %9.0f req/s  p50 %7.2f ms  p99 %7.2f ms  other CPU %s%s",
		mrun.m.name, tag, target, r.RPS, r.P50Ms, r.P99Ms, pct(r.OtherCPUPct), errNote(res))
	if err := sleepCtx(ctx, settle); err != nil {
		return nil, err
	}
	return r, nil
}
