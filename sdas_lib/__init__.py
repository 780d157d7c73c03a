"""sdas_lib: Scheduled Differentiable Architecture Search (Qiu et al.), small and readable."""

__version__ = "0.1.0"
