"""`python -m engine`: the engine's command line."""

from engine.cli import main

raise SystemExit(main())
