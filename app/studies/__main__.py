"""`python -m app.studies create|invite|results|serve ...`."""

from app.studies.cli import main

raise SystemExit(main())
