"""The package version, from the repository's VERSION file (scripts/generate.sh). Do not edit."""
__version__ = "0.1.0"
