"""`python -m app.evaluation ...`: the old door to the human studies; runs `python -m app studies ...`."""

from app.studies.cli import main

raise SystemExit(main())
