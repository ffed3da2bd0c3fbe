package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// plan is what bench/clients.py tells the worker to do (make_plan): where to call, what to
// send, each side's mode, the warm-up calls of each worker on each side, and the phases.
type plan struct {
	Host        string      `json:"host"`
	Port        int         `json:"port"`
	TLS         bool        `json:"tls"`
	CA          string      `json:"ca"`      // PEM roots to trust (TLS); empty: the system's
	KeyEnv      string      `json:"key_env"` // the variable holding the key (TLS); empty: none
	Payload     string      `json:"payload"` // jpeg, batch8 or tensor
	Image       string      `json:"image"`
	Concurrency int         `json:"concurrency"`
	Warmup      int         `json:"warmup"`
	Sides       []sidePlan  `json:"sides"`
	Phases      []phasePlan `json:"phases"`

	key string // the value of KeyEnv
}

// sidePlan is one side: its name ("a", "b") and its mode, client or stub.
type sidePlan struct {
	Name string `json:"name"`
	Mode string `json:"mode"`
}

// phasePlan is one phase: the side it calls, and the calls of each worker.
type phasePlan struct {
	Side           string `json:"side"`
	CallsPerWorker int    `json:"calls_per_worker"`
}

// readPlan reads the plan's line and checks it.
func readPlan(r io.Reader) (*plan, error) {
	line, err := bufio.NewReader(r).ReadBytes('\n')
	if err != nil && (!errors.Is(err, io.EOF) || len(line) == 0) {
		return nil, fmt.Errorf("no plan line on stdin: %w", err)
	}
	p := &plan{}
	if err := json.Unmarshal(line, p); err != nil {
		return nil, fmt.Errorf("the plan is not one JSON object: %w", err)
	}
	return p, p.check()
}

func (p *plan) check() error {
	switch {
	case p.Host == "":
		return errors.New("'host' is missing")
	case p.Port < 1 || p.Port > 65535:
		return fmt.Errorf("'port' must be 1-65535, not %d", p.Port)
	case p.Payload != "jpeg" && p.Payload != "batch8" && p.Payload != "tensor":
		return fmt.Errorf("'payload' must be jpeg, batch8 or tensor, not %q", p.Payload)
	case p.Payload != "tensor" && p.Image == "":
		return fmt.Errorf("'image' is missing for payload %s", p.Payload)
	case p.Concurrency < 1:
		return fmt.Errorf("'concurrency' must be at least 1, not %d", p.Concurrency)
	case p.Warmup < 0:
		return fmt.Errorf("'warmup' cannot be negative (%d)", p.Warmup)
	case !p.TLS && (p.CA != "" || p.KeyEnv != ""):
		return errors.New("'ca' and 'key_env' need 'tls': true")
	case len(p.Sides) == 0 || len(p.Phases) == 0:
		return errors.New("'sides' and 'phases' must not be empty")
	}
	names := map[string]bool{}
	for _, s := range p.Sides {
		if s.Name == "" || names[s.Name] || (s.Mode != "client" && s.Mode != "stub") {
			return fmt.Errorf("sides must have distinct names and a mode client or stub, not %+v", p.Sides)
		}
		names[s.Name] = true
	}
	for i, ph := range p.Phases {
		if !names[ph.Side] || ph.CallsPerWorker < 1 {
			return fmt.Errorf("phase %d must name a side of the plan and calls_per_worker >= 1, not %+v", i, ph)
		}
	}
	if p.KeyEnv != "" {
		if p.key = os.Getenv(p.KeyEnv); p.key == "" {
			return fmt.Errorf("the variable %s named by 'key_env' is empty", p.KeyEnv)
		}
	}
	return nil
}
