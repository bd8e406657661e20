"""``python -m archive.demo_site --port 8701 [--articles N] [--edition 2]``: serve until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys

from .content import DemoSite
from .server import DemoServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m archive.demo_site",
                                     description="Serve the fictional demo news site (The Calder Courier) locally.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8701, help="port (default 8701; 0 = any free port)")
    parser.add_argument("--articles", type=int, default=None, metavar="N",
                        help="serve N articles (hand-written first, the rest generated); default: the hand-written set")
    parser.add_argument("--edition", type=int, choices=(1, 2), default=1, help="1 = tonight, 2 = the next night")
    parser.add_argument("--seed", type=int, default=None, help="seed of the generated articles")
    parser.add_argument("--quiet", action="store_true", help="do not print one line per request")
    args = parser.parse_args(argv)

    kwargs = {} if args.seed is None else {"seed": args.seed}
    site = DemoSite(article_count=args.articles, edition=args.edition, **kwargs)
    try:
        server = DemoServer(site, host=args.host, port=args.port, verbose=not args.quiet)
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(f"Demo site ({len(site.articles)} articles, edition {site.edition}) at {server.base_url}/  "
          f"(Ctrl-C to stop)", flush=True)
    def _stop(signum, frame):  # SIGTERM (and SIGINT even when started in the background) stop cleanly
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopping", flush=True)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
