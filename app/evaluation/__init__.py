"""The old name of `app.studies`; kept for one release so `python -m app.evaluation` still runs."""
