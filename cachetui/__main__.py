"""``python -m cachetui`` runs the same entry point as the ``cachetui`` script."""

from cachetui.cli import main

raise SystemExit(main())
