package main

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/fpgascore/fpgascore/go/fpgascore"
)

// phaseResult is what one phase measured: its side, every call's latency, the wall and the
// process CPU time from the phase's start to its end.
type phaseResult struct {
	Side        string    `json:"side"`
	LatenciesMs []float64 `json:"latencies_ms"`
	WallMs      float64   `json:"wall_ms"`
	CPUMs       float64   `json:"cpu_ms"`
}

// runPlan sets up every side, then, on `concurrency` goroutines, makes the warm-up calls
// (each worker: every side in turn) and the phases one after the other: a phase starts when
// every call of the one before has ended. The first failure stops the run.
func runPlan(ctx context.Context, p *plan) ([]phaseResult, error) {
	pl, err := loadPayload(p)
	if err != nil {
		return nil, err
	}
	callers := map[string]caller{}
	for _, s := range p.Sides {
		c, closeConn, err := newCaller(p, s.Mode, pl)
		if err != nil {
			return nil, fmt.Errorf("setting up side %s (%s): %w", s.Name, s.Mode, err)
		}
		defer closeConn()
		callers[s.Name] = c
	}
	err = fanOut(ctx, p.Concurrency, func(ctx context.Context, _ int) error {
		for _, s := range p.Sides {
			for i := 0; i < p.Warmup; i++ {
				if err := call(ctx, callers[s.Name]); err != nil {
					return fmt.Errorf("side %s (%s): warm-up call failed: %w", s.Name, s.Mode, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	results := make([]phaseResult, len(p.Phases))
	cpu0, at0 := processCPU(), time.Now()
	for i, ph := range p.Phases {
		perWorker := make([][]float64, p.Concurrency)
		err := fanOut(ctx, p.Concurrency, func(ctx context.Context, w int) error {
			for j := 0; j < ph.CallsPerWorker; j++ {
				started := time.Now()
				if err := call(ctx, callers[ph.Side]); err != nil {
					return fmt.Errorf("side %s: call failed: %w", ph.Side, err)
				}
				perWorker[w] = append(perWorker[w], ms(time.Since(started)))
			}
			return nil
		})
		cpu1, at1 := processCPU(), time.Now()
		if err != nil {
			return nil, err
		}
		results[i] = phaseResult{Side: ph.Side, WallMs: ms(at1.Sub(at0)), CPUMs: ms(cpu1 - cpu0)}
		for _, l := range perWorker {
			results[i].LatenciesMs = append(results[i].LatenciesMs, l...)
		}
		cpu0, at0 = cpu1, at1
	}
	return results, nil
}

// fanOut runs work on n goroutines at once and waits for all of them; the first error
// cancels the others' context and is returned.
func fanOut(ctx context.Context, n int, work func(ctx context.Context, worker int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			if err := work(ctx, w); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		}(w)
	}
	wg.Wait()
	return first
}

// call makes one call under the client's default deadline.
func call(ctx context.Context, c caller) error {
	ctx, cancel := context.WithTimeout(ctx, fpgascore.DefaultTimeout)
	defer cancel()
	return c(ctx)
}

// processCPU is the user+system CPU time of the process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
