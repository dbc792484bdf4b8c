"""The harness: run experiments, sweeps, traces with provenance."""
from .run import run, RunResult, MonteCarloResult, provenance

__all__ = ["run", "RunResult", "MonteCarloResult", "provenance"]
