# Convenience targets; each wraps a script in scripts/ (which is what CI and the README use).
.PHONY: setup generate check-generated lint conformance conformance-local test test-server test-python test-go test-csharp bench bench-clients soak emulator

setup:             ; scripts/setup.sh
generate:          ; scripts/generate.sh
check-generated:   ; scripts/generate.sh --check
lint:              ; scripts/lint.sh
conformance:       ; scripts/conformance.sh
conformance-local: ; scripts/conformance.sh --server=process
test:              ; scripts/test-all.sh
test-server:       ; scripts/test-all.sh server
test-python:       ; scripts/test-all.sh python
test-go:           ; scripts/test-all.sh go
test-csharp:       ; scripts/test-all.sh csharp
emulator:          ; scripts/run-emulator serve --port 50051
bench:             ; bench/run.sh
bench-clients:     ; bench/run.sh --only clients
soak:              ; scripts/containers-setup.sh --run /usr/bin/python3 bench/soak.py --minutes 10
