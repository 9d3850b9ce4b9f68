"""``nor paper``: paper trading, gated on a promotion record.

The gate (:func:`scenarios.promotion.require_promotion`) refuses a config without a record signed by a
trusted key (:mod:`scenarios.signing`), whose content changed since, or whose bound code differs from the
code running now (naming the changed files). A promoted config gets the whole paper loop in a
NautilusTrader ``TradingNode`` (market data, publishers, survival Actor, DOLPHIN strategy, posture
gate, sandbox fills, traces), reading and writing health in Hazelcast (``NOR_HZ_MEMBERS``) — see
``scenarios.paper_run`` and ``adapters.nautilus.paper_loop``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

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
          options: "PaperOptions | None" = None, command: str = "nor paper",
          cluster: Mapping[str, Any] | None = None) -> int:
    """Gate, build and (unless ``build_only``) run the paper node; returns an exit code.

    ``records_dir`` defaults to ``promotions/`` beside the config file; the trusted keys come from ``environ``
    (see :mod:`scenarios.signing`); ``code`` is the running code (default: this source tree's).
    ``options`` (default Binance market data, until Ctrl-C) set the feed, duration, stand-ins and faults
    of the whole paper loop (``scenarios.paper_run``); ``cluster`` describes the local cluster a ``member``
    fault kills in (default: the one ``nor infra up`` recorded).
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
    from dataclasses import replace

    from .paper_run import PaperOptions, run_paper_session

    evidence = record.data["evidence"]
    say(f"config {config.name} ({config.config_id[:12]}) promoted {record.data['promoted_utc']} on run "
        f"{evidence['run_id']} ({', '.join(record.data['suites'])}; code {record.data['code']['sha256'][:12]})")
    options = options or PaperOptions()
    options = replace(options, instruments=tuple(instruments)) if instruments else options
    # the whole loop, on Binance market data or a replay feed (scenarios.paper_run)
    return run_paper_session(config, options, build_only=build_only, environ=env, command=command, say=say,
                             cluster=cluster)
