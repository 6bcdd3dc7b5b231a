"""Command line: ``python -m ordersync.sandbox --host 127.0.0.1 --port 8765 [options]``.

Prints ``sandbox listening on http://HOST:PORT`` once it accepts connections (``--port 0`` picks a
free port and prints the real one) and stops cleanly, exit status 0, on SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

import uvicorn

from ordersync.sandbox.amazon import LwaCredentials
from ordersync.sandbox.app import create_app
from ordersync.sandbox.limits import Limits
from ordersync.sandbox.world import World, iso, parse_time


def _anchor(value: str) -> datetime:
    try:
        return parse_time(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date-time: {value!r}") from None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m ordersync.sandbox",
                                     description="Local Amazon SP-API (orders) sandbox marketplace.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=42, help="same seed + anchor = same orders")
    parser.add_argument("--days", type=int, default=3, help="days of order history before the anchor")
    parser.add_argument("--orders-per-day", type=int, default=40, help="per marketplace")
    parser.add_argument("--countries", default="IT,FR,DE", help="comma-separated country codes")
    parser.add_argument("--anchor", type=_anchor, default=None,
                        help="ISO 8601 end of the generated history (default: now, floored to the hour)")
    parser.add_argument("--client-id", default=LwaCredentials.client_id)
    parser.add_argument("--client-secret", default=LwaCredentials.client_secret)
    parser.add_argument("--refresh-token", default=LwaCredentials.refresh_token)
    parser.add_argument("--token-lifetime", type=int, default=LwaCredentials.token_lifetime,
                        help="access token lifetime in seconds")
    parser.add_argument("--usage-plans", action="store_true",
                        help="enforce Amazon's usage plans (token buckets per region and operation; 429 when empty)")
    parser.add_argument("--time-scale", type=float, default=1.0,
                        help="usage plans refill this many times faster than on Amazon (tests)")
    parser.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"])
    parser.add_argument("--access-log", action="store_true", help="log every request line")
    return parser.parse_args(argv)


class _Server(uvicorn.Server):
    """uvicorn server that announces its address and exits normally on SIGTERM."""

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            print(f"sandbox listening on http://{host}:{port}", flush=True)

    def handle_exit(self, sig, frame) -> None:
        # uvicorn re-raises the signal after shutdown (exit status -15); a clean stop is asked for.
        self.force_exit = self.should_exit
        self.should_exit = True


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    countries = [c.strip() for c in args.countries.split(",") if c.strip()]
    try:
        world = World(seed=args.seed, days=args.days, orders_per_day=args.orders_per_day,
                      countries=countries, anchor=args.anchor)
    except KeyError as exc:
        print(f"sandbox: {exc.args[0]}", file=sys.stderr)
        return 2
    credentials = LwaCredentials(args.client_id, args.client_secret, args.refresh_token, args.token_lifetime)
    limits = Limits(usage_plans=args.usage_plans, time_scale=args.time_scale)
    config = uvicorn.Config(create_app(world, credentials, limits), host=args.host, port=args.port,
                            log_level=args.log_level, access_log=args.access_log, lifespan="off")
    print(f"sandbox world: seed={world.seed} anchor={iso(world.anchor)} "
          f"marketplaces={','.join(m.country for m in world.marketplaces)} orders={len(world.orders())}", flush=True)
    _Server(config).run()
    print("sandbox stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
