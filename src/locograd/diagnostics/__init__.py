"""``locograd.diagnostics``: watch the gradients instead of guessing.

``GradientMonitor(model)`` records, through hooks, the gradient magnitudes, weight norms and
saturated units of every layer at every step; ``table()`` prints them, ``plot(path)`` draws them.
Pictures of the graph itself are in ``locograd.viz``.

Example:
    >>> import locograd as lg
    >>> model = lg.nn.Sequential(lg.nn.Linear(4, 8), lg.nn.Tanh(), lg.nn.Linear(8, 1))
    >>> monitor = lg.diagnostics.GradientMonitor(model)
    >>> model(lg.randn(32, 4)).pow(2).mean().backward()
    >>> sorted(monitor.metric("weight_grad"))
    ['0', '1', '2']
    >>> monitor.remove()
"""
from .monitor import METRICS, GradientMonitor
from .report import format_table

__all__ = ["GradientMonitor", "METRICS", "format_table"]
