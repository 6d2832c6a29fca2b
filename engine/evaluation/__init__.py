"""Evaluation: held-out cases, systems, metrics and the harness behind `python -m engine evaluate`."""
