"""`python -m app.evaluation create|invite|results|serve ...`."""

from app.evaluation.cli import main

raise SystemExit(main())
