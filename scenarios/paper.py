"""``nor paper``: paper trading, gated on a promotion record.

The gate (:func:`scenarios.promotion.require_promotion`) refuses a config without a matching
promotion record, or whose content changed since. A promoted config gets a NautilusTrader
``TradingNode`` with sandbox execution (simulated fills), the survival Actor and the posture
guard, reading health from Hazelcast (``NOR_HZ_MEMBERS``) — see ``adapters.nautilus.paper``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

from controller import ConfigError

from .promotion import PromotionError, require_promotion

if TYPE_CHECKING:  # pragma: no cover
    from .paper_run import PaperOptions

__all__ = ["paper", "EXIT_OK", "EXIT_REFUSED", "EXIT_INVALID"]

EXIT_OK, EXIT_REFUSED, EXIT_INVALID = 0, 1, 2


def paper(config_path: str | Path, *, records_dir: str | Path = "promotions", instruments: Sequence[str] = (),
          build_only: bool = False, environ: Mapping[str, str] | None = None,
          say: Callable[[str], None] = print, options: "PaperOptions | None" = None, command: str = "nor paper") -> int:
    """Gate, build and (unless ``build_only``) run the paper node; returns an exit code.

    ``options`` with a replay feed runs the whole paper loop (``scenarios.paper_run``)."""
    try:
        config, record = require_promotion(config_path, records_dir)
    except PromotionError as exc:
        say(f"nor: paper trading refused: {exc}")
        return EXIT_REFUSED
    except ConfigError as exc:
        say(f"nor: invalid input: {exc}")
        return EXIT_INVALID
    if options is not None and options.feed != "binance":
        from .paper_run import run_paper_session
        return run_paper_session(config, options, build_only=build_only, environ=environ, command=command, say=say)
    from adapters.nautilus import NautilusAdapterError
    from adapters.nautilus.paper import PaperSettings, build_paper_node

    settings = PaperSettings(instrument_ids=tuple(instruments)) if instruments else PaperSettings()
    try:
        node = build_paper_node(config, settings=settings, environ=os.environ if environ is None else environ,
                                build_only=build_only)
    except NautilusAdapterError as exc:
        say(f"nor: invalid input: {exc}")
        return EXIT_INVALID
    evidence = record.data.get("evidence", {})
    say(f"config {config.name} ({config.config_id[:12]}) promoted {record.data.get('promoted_utc')} on run "
        f"{evidence.get('run_id')} ({', '.join(record.data.get('suites', {}))}); built TradingNode "
        f"{node.trader_id} with sandbox execution on {', '.join(settings.instrument_ids)}")
    if build_only:
        node.dispose()
        return EXIT_OK
    try:
        node.run()
    except KeyboardInterrupt:
        say("nor: paper trading interrupted")
    finally:
        node.stop()
        node.dispose()
    return EXIT_OK
