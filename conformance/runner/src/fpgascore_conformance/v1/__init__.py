"""Generated code for fpgascore.conformance.v1, the driver protocol (scripts/generate.sh). Do not edit."""
