from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("registry", metavar="REGISTRY", help="registry host[:port]")


def run(args: argparse.Namespace) -> int:
    from rigging.registry import credentials

    host = args.registry.split("://", 1)[-1].rstrip("/")
    if credentials.erase(host):
        print(f"removed the credentials for {host}")
    else:
        print(f"no credentials were stored for {host}")
    return 0
