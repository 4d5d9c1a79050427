from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("registry", metavar="REGISTRY", nargs="?", help="registry host[:port]")
    parser.add_argument(
        "--index",
        metavar="URL",
        help="log in to a Rigging indexer instead: the password is an access token (rig_…), checked there",
    )
    parser.add_argument("-u", "--username", help="user name (prompted when omitted)")
    parser.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    parser.add_argument("--plain-http", action="store_true", help="use HTTP, not HTTPS (loopback registries always do)")
    parser.add_argument("--ca-file", metavar="PEM", help="CA bundle to verify the registry's TLS certificate")


def run(args: argparse.Namespace) -> int:
    from rigging.errors import UsageError
    from rigging.registry import credentials
    from rigging.registry.client import RegistryClient
    from rigging.settings import registry_options

    if bool(args.registry) == bool(args.index):
        raise UsageError("name a registry (rigging login HOST) or an indexer (rigging login --index URL), not both")
    username = args.username
    if args.password_stdin:
        if not username:
            raise UsageError("--password-stdin needs --username")
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        if not sys.stdin.isatty():
            raise UsageError("no terminal to ask for the password; use --username and --password-stdin")
        import getpass

        username = username or input("Username: ").strip()
        password = getpass.getpass("Password: ")
    if not username or not password:
        raise UsageError("a user name and a password are both needed")
    if args.index:
        return _index_login(args.index, username, password)
    host = args.registry.split("://", 1)[-1].rstrip("/")
    options = registry_options(host, args.plain_http, args.ca_file)
    given = credentials.Credentials(username=username, password=password)
    with RegistryClient(host, plain_http=options.plain_http, ca_bundle=options.ca_file, credentials=given) as client:
        client.ping()  # proves the credentials before they are stored
    where = credentials.store(host, username, password)
    print(f"login succeeded for {username} at {host} (saved in {where})")
    return 0


def _index_login(given: str, username: str, token: str) -> int:
    """Check the token with the indexer (whoami) before storing it under the indexer's host."""
    from rigging.errors import UsageError
    from rigging.index_access import index_host
    from rigging.registry import credentials

    from rigging_cli.index_args import index_get, index_url

    index = index_url(given)
    who = index_get(index, "/api/v1/whoami", token=token)
    name = str(who.get("username") or "") if isinstance(who, dict) else ""
    if name and username not in (name, "__token__"):
        raise UsageError(f"that token belongs to {name}, not {username}; log in as {name}")
    where = credentials.store(index_host(index), username, token)
    print(f"login succeeded for {name or username} at {index} (saved in {where})")
    return 0
