"""The local control plane of scoring services (``scripts/run-emulator manage``): registers
models, runs each service as a reference server (process or container) with its TLS files
and keys, rotates keys and certificates by reload, and brings its services back after a
restart. The API is fpgascore.v1.DeploymentService (proto/fpgascore/v1/deployment_service.proto).

Modules: store (SQLite), validation (names, keys, PEM), runtime (files, the runtime surface),
process and container (the two runtimes), manager (the lifecycle), service (gRPC), main (CLI),
replicas (metrics), kubernetes (ExportService's manifests), dashboard (the HTTP dashboard).
"""
