"""Telemetry: what SAGE records, exported to the tracing backends people already run."""
