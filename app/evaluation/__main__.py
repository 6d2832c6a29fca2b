"""`python -m app.evaluation [--db URL] ...`: the old door to human studies, now `python -m app studies`."""

import sys

from app.studies.cli import OLD_DOOR_NOTICE, main

print(OLD_DOOR_NOTICE, file=sys.stderr)
raise SystemExit(main())
