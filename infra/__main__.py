"""``python -m infra``: install (or check) the pinned Hazelcast jar and Toxiproxy server; print their paths."""

from .install import main

raise SystemExit(main())
