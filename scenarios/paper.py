"""``nor paper``: paper trading, gated on a promotion record.

The gate (:func:`scenarios.promotion.require_promotion`) refuses a config without a record signed by a
trusted key (:mod:`scenarios.signing`), whose content changed since, or whose bound code differs from the
code running now (naming the changed files). A promoted config gets a NautilusTrader
``TradingNode`` with sandbox execution (simulated fills), the survival Actor and the posture
guard, reading health from Hazelcast (``NOR_HZ_MEMBERS``) — see ``adapters.nautilus.paper``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

from controller import ConfigError, load_config

from .codestate import CodeState, code_state
from .errors import ScenarioError
from .promotion import PromotionError, require_promotion
from .signing import load_trusted_keys

if TYPE_CHECKING:  # pragma: no cover
    from .paper_run import PaperOptions

__all__ = ["paper", "EXIT_OK", "EXIT_REFUSED", "EXIT_INVALID"]

EXIT_OK, EXIT_REFUSED, EXIT_INVALID = 0, 1, 2


def paper(config_path: str | Path, *, records_dir: str | Path | None = None, instruments: Sequence[str] = (),
          build_only: bool = False, environ: Mapping[str, str] | None = None,
          say: Callable[[str], None] = print, code: CodeState | None = None,
          options: "PaperOptions | None" = None, command: str = "nor paper") -> int:
    """Gate, build and (unless ``build_only``) run the paper node; returns an exit code.

    ``records_dir`` defaults to ``promotions/`` beside the config file; the trusted keys come from ``environ``
    (see :mod:`scenarios.signing`); ``code`` is the running code (default: this source tree's).
    ``options`` with a replay feed runs the whole paper loop (``scenarios.paper_run``).
    """
    env = os.environ if environ is None else environ
    try:
        load_config(config_path)                # an invalid config is named before any key or record
        trusted_file, trusted = load_trusted_keys(env)
        config, record = require_promotion(config_path, trusted=trusted, trusted_file=trusted_file,
                                           code=code or code_state(), records_dir=records_dir)
    except PromotionError as exc:
        say(f"nor: paper trading refused: {exc}")
        return EXIT_REFUSED
    except (ConfigError, ScenarioError) as exc:
        say(f"nor: invalid input: {exc}")
        return EXIT_INVALID
    if options is not None and options.feed != "binance":
        from .paper_run import run_paper_session
        return run_paper_session(config, options, build_only=build_only, environ=env, command=command, say=say)
    from adapters.nautilus import NautilusAdapterError
    from adapters.nautilus.paper import PaperSettings, build_paper_node

    settings = PaperSettings(instrument_ids=tuple(instruments)) if instruments else PaperSettings()
    try:
        node = build_paper_node(config, settings=settings, environ=env, build_only=build_only)
    except NautilusAdapterError as exc:
        say(f"nor: invalid input: {exc}")
        return EXIT_INVALID
    evidence = record.data["evidence"]
    say(f"config {config.name} ({config.config_id[:12]}) promoted {record.data['promoted_utc']} on run "
        f"{evidence['run_id']} ({', '.join(record.data['suites'])}; code {record.data['code']['sha256'][:12]}); "
        f"built TradingNode "
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
