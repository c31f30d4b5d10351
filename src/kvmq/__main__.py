"""Allow ``python -m kvmq``."""

from kvmq.cli import main

raise SystemExit(main())
