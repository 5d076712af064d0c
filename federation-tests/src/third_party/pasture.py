"""fediverse-pasture's verify_actor server (PyPI: fediverse-pasture), for
tests/third_party.rs, with the rig's host names resolved.

The package runs unchanged. This launcher only
- makes its HTTP client (aiohttp, through bovine) resolve the rig's `.test`
  names to their loopback addresses from HEALTHCOMMONS_TEST_RESOLVE
  (`name=ip,...`, like the node's HEALTHCOMMONS_DEV_RESOLVE) instead of
  /etc/hosts. aiohttp resolves through c-ares when aiodns is installed,
  which reads only /etc/hosts and DNS, so it is given its thread-pool
  resolver (socket.getaddrinfo) instead;
- binds the server to `--bind IP` (its own command binds 0.0.0.0);
then runs `python -m fediverse_pasture.verify_actor` with the other
arguments (`--port`, `--domain`, ...).
"""

import os
import runpy
import socket
import sys

NAMES = dict(
    pair.split("=", 1)
    for pair in os.environ.get("HEALTHCOMMONS_TEST_RESOLVE", "").split(",")
    if "=" in pair
)
_system_getaddrinfo = socket.getaddrinfo


def _getaddrinfo(host, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else host
    return _system_getaddrinfo(NAMES.get(name, host), *args, **kwargs)


socket.getaddrinfo = _getaddrinfo

import aiohttp.connector  # noqa: E402
import aiohttp.resolver  # noqa: E402
import quart  # noqa: E402

aiohttp.connector.DefaultResolver = aiohttp.resolver.ThreadedResolver

args = sys.argv[1:]
bind = None
if len(args) >= 2 and args[0] == "--bind":
    bind, args = args[1], args[2:]
if bind is not None:
    _run = quart.Quart.run

    def _run_bound(self, *run_args, **run_kwargs):
        run_kwargs["host"] = bind
        return _run(self, *run_args, **run_kwargs)

    quart.Quart.run = _run_bound

sys.argv = ["fediverse_pasture.verify_actor", *args]
runpy.run_module("fediverse_pasture.verify_actor", run_name="__main__", alter_sys=True)
