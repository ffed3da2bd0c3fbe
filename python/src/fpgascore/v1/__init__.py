"""Generated protobuf and gRPC code for fpgascore.v1 (scripts/generate.sh). Do not edit."""
