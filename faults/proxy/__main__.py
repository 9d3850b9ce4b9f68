"""``python -m faults.proxy [--host H] [--port P] [--seed S]``: run the fault proxy standalone."""

from __future__ import annotations

import argparse
import sys
import threading

from .server import FaultProxyServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m faults.proxy",
                                     description="Toxiproxy-compatible TCP fault proxy (HTTP API)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8474)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    server = FaultProxyServer(args.host, args.port, args.seed).start()
    print(f"fault proxy API on http://{server.host}:{server.port} seed={args.seed}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
