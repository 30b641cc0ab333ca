"""Evaluation: the challenge's metrics for a model and reference baselines on the same pairs, with a report."""

from .baselines import BASELINES, colour_transfer, identity
from .runner import EvalResult, eval_dataset, evaluate

__all__ = ["BASELINES", "EvalResult", "colour_transfer", "eval_dataset", "evaluate", "identity"]
