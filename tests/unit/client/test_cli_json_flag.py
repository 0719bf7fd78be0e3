"""Every `tickstock` command takes --json, found by walking the parser, so a new command cannot miss it."""

from __future__ import annotations

import argparse

from tickstock_client.cli import _parser


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    nested = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not nested:
        return [path]
    return [leaf for name, sub in nested[0].choices.items() for leaf in _leaves(sub, (*path, name))]


def test_every_command_takes_json() -> None:
    parser = _parser()
    leaves = _leaves(parser)
    missing = []
    for path in leaves:
        command = parser
        for name in path:
            command = next(a for a in command._actions if isinstance(a, argparse._SubParsersAction)).choices[
                name
            ]
        if "--json" not in command._option_string_actions:
            missing.append(" ".join(path))

    assert len(leaves) > 20  # every command and action, not a shallow walk
    assert missing == []


def test_json_is_accepted_where_it_is_the_only_output() -> None:
    args = _parser().parse_args(["symbols", "appl", "--json"])

    assert (args.command, args.query, args.json) == ("symbols", "appl", True)
