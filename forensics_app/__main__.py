"""``python -m forensics_app``: the command-line interface."""

from forensics_app.cli import main

raise SystemExit(main())
