package fpgascore

import (
	"math"
	"math/rand"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
)

// PushbackKey is the response metadata key of the server's retry pushback (gRPC's retry
// design): milliseconds to wait before retrying. The reference server sends it with
// RESOURCE_EXHAUSTED when its queue is full.
const PushbackKey = "grpc-retry-pushback-ms"

// RetryPolicy says how a failed call is retried; it is the same in every fpgascore client.
//
// Retried codes: UNAVAILABLE and ABORTED, and RESOURCE_EXHAUSTED only when the server sent
// grpc-retry-pushback-ms >= 0. Every other code is returned at once. Before retry n (1, 2,
// ...) the client sleeps a uniformly random time in
// [0, min(MaxBackoff, InitialBackoff × Multiplier^(n-1))] ("full jitter"), or the server's
// pushback when that is larger. A retry whose sleep would end after the call's deadline is
// not made: the last error is returned instead.
//
// Zero fields take the defaults of DefaultRetryPolicy (Go's zero-value idiom: RetryPolicy{
// MaxAttempts: 2} is the default policy with two attempts); a negative or impossible value
// makes NewClient fail with INVALID_ARGUMENT, as the other clients refuse it.
type RetryPolicy struct {
	// MaxAttempts is the number of attempts in all, the first included (default 4; 1
	// disables retries).
	MaxAttempts int
	// InitialBackoff bounds the first sleep (default 100 ms).
	InitialBackoff time.Duration
	// MaxBackoff caps the bound of every sleep (default 2 s).
	MaxBackoff time.Duration
	// Multiplier is the growth of the bound per retry (default 2).
	Multiplier float64
}

// DefaultRetryPolicy returns the default policy: 4 attempts, backoff bound 100 ms doubling
// up to 2 s.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: 4, InitialBackoff: 100 * time.Millisecond, MaxBackoff: 2 * time.Second, Multiplier: 2}
}

// NoRetries returns a policy that never retries (MaxAttempts 1).
func NoRetries() RetryPolicy {
	p := DefaultRetryPolicy()
	p.MaxAttempts = 1
	return p
}

// normalized fills zero fields with the defaults and refuses impossible values.
func (p RetryPolicy) normalized() (RetryPolicy, error) {
	d := DefaultRetryPolicy()
	switch {
	case p.MaxAttempts < 0:
		return p, newError(codes.InvalidArgument, "RetryPolicy.MaxAttempts must be >= 1 (0: the default), not %d", p.MaxAttempts)
	case p.InitialBackoff < 0 || p.MaxBackoff < 0:
		return p, newError(codes.InvalidArgument, "RetryPolicy backoffs must be positive (0: the default), not %s and %s",
			p.InitialBackoff, p.MaxBackoff)
	case math.IsNaN(p.Multiplier) || (p.Multiplier != 0 && p.Multiplier < 1):
		return p, newError(codes.InvalidArgument, "RetryPolicy.Multiplier must be >= 1 (0: the default), not %v", p.Multiplier)
	}
	if p.MaxAttempts == 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.InitialBackoff == 0 {
		p.InitialBackoff = d.InitialBackoff
	}
	if p.MaxBackoff == 0 {
		p.MaxBackoff = max(d.MaxBackoff, p.InitialBackoff)
	}
	if p.Multiplier == 0 {
		p.Multiplier = d.Multiplier
	}
	if p.MaxBackoff < p.InitialBackoff {
		return p, newError(codes.InvalidArgument, "RetryPolicy.MaxBackoff (%s) must be >= InitialBackoff (%s)",
			p.MaxBackoff, p.InitialBackoff)
	}
	return p, nil
}

// BackoffBound returns the upper bound of the sleep before retry n (n >= 1):
// min(MaxBackoff, InitialBackoff × Multiplier^(n-1)), zero fields taking their defaults (an
// invalid policy, which NewClient refuses, gives the default policy's bound).
func (p RetryPolicy) BackoffBound(n int) time.Duration {
	p, err := p.normalized()
	if err != nil {
		p = DefaultRetryPolicy()
	}
	if n < 1 {
		n = 1
	}
	bound := float64(p.InitialBackoff)
	for i := 1; i < n; i++ {
		bound *= p.Multiplier
		if bound >= float64(p.MaxBackoff) {
			return p.MaxBackoff
		}
	}
	if bound >= float64(p.MaxBackoff) {
		return p.MaxBackoff
	}
	return time.Duration(bound)
}

// pushback returns the server's pushback and whether a valid (>= 0) one was sent.
func pushback(header, trailer metadata.MD) (time.Duration, bool) {
	for _, md := range []metadata.MD{trailer, header} {
		values := md.Get(PushbackKey)
		if len(values) == 0 {
			continue
		}
		ms, err := strconv.ParseInt(strings.TrimSpace(values[0]), 10, 64)
		if err != nil || ms < 0 {
			return 0, false
		}
		if ms > int64(math.MaxInt64/time.Millisecond) {
			ms = int64(math.MaxInt64 / time.Millisecond)
		}
		return time.Duration(ms) * time.Millisecond, true
	}
	return 0, false
}

// retryable reports whether the policy allows retrying an attempt that failed with code.
func retryable(code codes.Code, header, trailer metadata.MD) bool {
	switch code {
	case codes.Unavailable, codes.Aborted:
		return true
	case codes.ResourceExhausted:
		_, ok := pushback(header, trailer)
		return ok
	}
	return false
}

// jitter draws the uniformly random sleeps; safe for concurrent use.
type jitter struct {
	mu  sync.Mutex
	rng *rand.Rand
}

func newJitter() *jitter {
	return &jitter{rng: rand.New(rand.NewSource(time.Now().UnixNano()))}
}

// uniform returns a duration uniformly drawn from [0, bound].
func (j *jitter) uniform(bound time.Duration) time.Duration {
	if bound <= 0 {
		return 0
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return time.Duration(j.rng.Int63n(int64(bound) + 1))
}

// retryDelay returns the sleep before retry n (n >= 1) after an attempt whose response
// metadata is header/trailer: full jitter, or the server's pushback when larger.
func (p RetryPolicy) retryDelay(n int, j *jitter, header, trailer metadata.MD) time.Duration {
	sleep := j.uniform(p.BackoffBound(n))
	if pb, ok := pushback(header, trailer); ok && pb > sleep {
		sleep = pb
	}
	return sleep
}
