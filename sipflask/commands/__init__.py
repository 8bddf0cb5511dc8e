"""Command-line interface: ``flask --app sipflask
users|buyers|numbers|demo|export|import|simulate-call|inbound|worker|history|webhooks``.

One module per command group, named for what it works on (``users``, ``setup`` for the JSON
document, ``simulate``, ``inbound``); a new group gets a module of its own and one line in
:func:`init_app`, which ``create_app`` calls.
"""
from __future__ import annotations

from sipflask.commands import (buyers, history, inbound, numbers, setup, simulate, users,
                               webhooks, worker)


def init_app(app) -> None:
    app.cli.add_command(users.users_cli)
    app.cli.add_command(buyers.buyers_cli)
    app.cli.add_command(numbers.numbers_cli)
    for command in (setup.demo_command, setup.export_command, setup.import_command,
                    simulate.simulate_call_command):
        app.cli.add_command(command)
    app.cli.add_command(inbound.inbound_cli)
    app.cli.add_command(worker.worker_command)
    app.cli.add_command(history.history_cli)
    app.cli.add_command(webhooks.webhooks_cli)
